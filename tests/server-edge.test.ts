/**
 * Issue 1/7: what a stranger can send to the HTTP listener before any authentication — odd upgrade targets,
 * oversized WebSocket frames, requests that drip — is refused without taking the process down or holding
 * memory and sockets for ever.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../server/testing/test-server.js';

let server: TestServer;
let port: number;
beforeAll(async () => {
  server = await startTestServer({ HTTP_REQUEST_TIMEOUT: '1500ms', HTTP_HEADERS_TIMEOUT: '1000ms' });
  port = Number(new URL(server.httpUrl).port);
});
afterAll(async () => {
  await server?.stop();
});

/** Opens a raw TCP connection to the HTTP port and collects what comes back until the server closes it. */
function rawConnection(): { socket: Socket; received: () => string; closed: Promise<number> } {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  const started = Date.now();
  socket.on('data', (chunk) => {
    data += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
  return { socket, received: () => data, closed };
}

/** Resolves with the time to close, or 'open' when the server still holds the socket after `ms`. */
function closedWithin(closed: Promise<number>, ms: number): Promise<number | 'open'> {
  return Promise.race([closed, new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms))]);
}

async function healthy(): Promise<boolean> {
  const response = await fetch(`${server.httpUrl}/healthz`);
  return response.ok;
}

describe('HTTP edge', () => {
  it('answers upgrade requests to targets that are not URLs (//, //@) and stays up', async () => {
    for (const target of ['//', '//@', '//@:99999', '/%', 'http://[', '*']) {
      const { socket, received, closed } = rawConnection();
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      expect(await closedWithin(closed, 3000)).not.toBe('open');
      expect(received()).not.toContain('101 Switching Protocols');
    }
    expect(await healthy()).toBe(true);
  });

  it('answers targets that are not a path (absolute-form with credentials, authority, *) with 400, not 500', async () => {
    for (const target of ['http://user@evil.example/healthz', 'http://u:p@x/api/v1/auth/me', 'http://x/healthz', 'x:80', '*']) {
      const { socket, received, closed } = rawConnection();
      socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      await closedWithin(closed, 3000);
      expect(received(), target).toMatch(/^HTTP\/1\.1 400 /);
      if (target.startsWith('http')) expect(received()).toContain('bad_request_target');
    }
    expect(await healthy()).toBe(true);
  });

  it('still upgrades /mqtt with a query string', async () => {
    const { socket, received, closed } = rawConnection();
    socket.write(
      'GET /mqtt?x=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await closedWithin(closed, 500);
    expect(received()).toContain('101 Switching Protocols');
    socket.destroy();
  });

  it('closes an unauthenticated WebSocket that announces a frame over the MQTT packet cap, before reading it', async () => {
    const { socket, received, closed } = rawConnection();
    socket.write(
      'GET /mqtt HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    const deadline = Date.now() + 3000;
    while (!received().includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(received()).toContain('101 Switching Protocols');
    // A masked binary frame announcing 90 MiB (64-bit length), then the first 64 KiB of it.
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(90 * 1024 * 1024), 2);
    socket.write(header);
    socket.write(Buffer.alloc(64 * 1024));
    expect(await closedWithin(closed, 3000)).not.toBe('open');
    expect(await healthy()).toBe(true);
  });

  it('cuts off a client that drips its body past HTTP_REQUEST_TIMEOUT', async () => {
    const { socket, closed } = rawConnection();
    socket.write(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{',
    );
    const drip = setInterval(() => socket.write(' '), 100);
    try {
      // Within the login body limit (8 KiB): only the request timeout (1.5 s here) can end it.
      const after = await closedWithin(closed, 6000);
      expect(after).not.toBe('open');
      expect(after).toBeGreaterThanOrEqual(1000);
    } finally {
      clearInterval(drip);
    }
  });

  it('cuts off a client that drips its headers past HTTP_HEADERS_TIMEOUT', async () => {
    const { socket, closed } = rawConnection();
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.write('X-A: b\r\n'), 100);
    try {
      expect(await closedWithin(closed, 6000)).not.toBe('open');
    } finally {
      clearInterval(drip);
    }
    expect(await healthy()).toBe(true);
  });
});
