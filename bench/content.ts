/**
 * Content throughput: upload and download of a generated file (default 1 GiB) through the real content routes,
 * and the server's peak RSS during the upload. The server runs in a child process so its memory is its own;
 * the data is generated while it is sent (never held whole) and removed with the server's temp dir afterwards.
 *
 *   npm run bench:content                 # 1 GiB
 *   npm run bench:content -- --mib 256    # smaller
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { basic, startContentTestServer } from '../server/content/testing.js';

const MIB = 1024 * 1024;

interface Ready {
  url: string;
  editor: string;
  approver: string;
  device: { id: string; secret: string };
}

async function serve(): Promise<void> {
  const server = await startContentTestServer();
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const ready: Ready = {
    url: server.url,
    editor: server.addUser('bench.editor', 'editor'),
    approver: server.addUser('bench.approver', 'approver'),
    device: { id: 'bench-kiosk', secret: server.addDevice('bench-kiosk', 'c-ia-dom') },
  };
  process.on('message', (message: { type: string }) => {
    if (message.type === 'reset') {
      peak = process.memoryUsage().rss;
      process.send?.({ type: 'rss', rss: peak });
    } else if (message.type === 'peak') {
      process.send?.({ type: 'rss', rss: Math.max(peak, process.memoryUsage().rss) });
    } else if (message.type === 'stop') {
      clearInterval(sampler);
      void server.close().then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'ready', ready });
}

function request(
  url: string,
  init: { method: string; headers: Record<string, string> },
  body?: (req: http.ClientRequest) => void,
) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(url, init, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) body(req);
    else req.end();
  });
}

/** Writes `total` bytes: an MP4 head, then a random block repeated, honouring back-pressure. */
function writeGenerated(req: http.ClientRequest, total: number, hash: ReturnType<typeof createHash>): void {
  const head = Buffer.from('00000018667479706d703432000000006d70343269736f6d', 'hex');
  const block = randomBytes(MIB);
  let sent = 0;
  const next = () => {
    while (sent < total) {
      const chunk =
        sent === 0 ? Buffer.concat([head, block.subarray(head.length)]) : block.subarray(0, Math.min(MIB, total - sent));
      sent += chunk.length;
      hash.update(chunk);
      if (!req.write(chunk)) {
        req.once('drain', next);
        return;
      }
    }
    req.end();
  };
  next();
}

async function main(): Promise<void> {
  const mibArg = process.argv.indexOf('--mib');
  const total = (mibArg > 0 ? Number(process.argv[mibArg + 1]) : 1024) * MIB;
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const messages: Array<(m: { type: string; rss?: number; ready?: Ready }) => boolean> = [];
  child.on('message', (m: { type: string }) => {
    const i = messages.findIndex((take) => take(m));
    if (i >= 0) messages.splice(i, 1);
  });
  const ask = <T>(type: string, send?: string) =>
    new Promise<T>((resolve) => {
      messages.push((m) => {
        if (m.type !== type) return false;
        resolve(m as T);
        return true;
      });
      if (send) child.send({ type: send });
    });
  const { ready } = await ask<{ ready: Ready }>('ready');
  try {
    const editor = { authorization: `Bearer ${ready.editor}` };
    const approver = { authorization: `Bearer ${ready.approver}` };
    const json = { 'content-type': 'application/json' };
    const created = await request(`${ready.url}/api/v1/content`, { method: 'POST', headers: { ...editor, ...json } }, (req) =>
      req.end(JSON.stringify({ kind: 'video' })),
    );
    const { id } = JSON.parse(created.text) as { id: string };
    await request(
      `${ready.url}/api/v1/content/${id}/translations/vi`,
      { method: 'PUT', headers: { ...editor, ...json } },
      (req) => req.end(JSON.stringify({ title: 'Phim tư liệu' })),
    );

    const baseline = (await ask<{ rss: number }>('rss', 'reset')).rss;
    const sentHash = createHash('sha256');
    const upStart = performance.now();
    const upload = await request(
      `${ready.url}/api/v1/content/${id}/translations/vi/file`,
      { method: 'PUT', headers: { ...editor, 'content-type': 'video/mp4', 'content-length': String(total) } },
      (req) => writeGenerated(req, total, sentHash),
    );
    const upSeconds = (performance.now() - upStart) / 1000;
    const peak = (await ask<{ rss: number }>('rss', 'peak')).rss;
    if (upload.status !== 201) throw new Error(`upload failed: ${upload.status} ${upload.text}`);
    const stored = (JSON.parse(upload.text) as { file: { sha256: string } }).file.sha256;
    const expected = sentHash.digest('hex');
    if (stored !== expected) throw new Error('the stored sha256 differs from what was sent');

    for (const [step, who] of [
      ['submit', editor],
      ['approve', approver],
      ['publish', approver],
    ] as const) {
      const res = await request(`${ready.url}/api/v1/content/${id}/${step}`, { method: 'POST', headers: who });
      if (res.status !== 200) throw new Error(`${step} failed: ${res.status} ${res.text}`);
    }
    const device = { authorization: basic(ready.device.id, ready.device.secret) };
    await request(`${ready.url}/api/v1/devices/${ready.device.id}/manifest`, { method: 'GET', headers: device });
    const downHash = createHash('sha256');
    const downStart = performance.now();
    const downloaded = await new Promise<number>((resolve, reject) => {
      http
        .get(`${ready.url}/files/${stored}`, { headers: device }, (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            downHash.update(chunk);
          });
          res.on('end', () => resolve(bytes));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    const downSeconds = (performance.now() - downStart) / 1000;
    if (downloaded !== total || downHash.digest('hex') !== expected) throw new Error('the download differs from the upload');

    const mb = total / 1e6;
    const result = {
      sizeMiB: total / MIB,
      uploadMBps: Number((mb / upSeconds).toFixed(1)),
      downloadMBps: Number((mb / downSeconds).toFixed(1)),
      serverRssBaselineMiB: Number((baseline / MIB).toFixed(1)),
      serverRssPeakDuringUploadMiB: Number((peak / MIB).toFixed(1)),
      node: process.version,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.send({ type: 'stop' });
    });
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
