/**
 * Writes one raw HTTP request on its own TCP connection and reads the status line of the answer.
 * A drip body is written one byte per interval for a bounded time; nothing waits longer than `timeoutMs`.
 */
import { connect as netConnect } from 'node:net';
import type { HttpCase } from './http-cases.js';

export type RequestOutcome = 'response' | 'closed_without_response' | 'timeout' | 'connect_failed';

export interface RequestResult {
  outcome: RequestOutcome;
  status: number | null;
  /** For a drip: the server answered or closed before the drip ended (it did not wait forever). */
  ms: number;
}

export function sendHttp(target: { host: string; port: number; timeoutMs: number }, c: HttpCase): Promise<RequestResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = netConnect(target.port, target.host);
    let received: Buffer = Buffer.alloc(0);
    let status: number | null = null;
    let connected = false;
    let done = false;
    let dripTimer: NodeJS.Timeout | undefined;
    let afterHead: NodeJS.Timeout | undefined;
    const finish = (outcome: RequestOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      clearTimeout(afterHead);
      clearInterval(dripTimer);
      socket.destroy();
      resolve({ outcome: status !== null ? 'response' : outcome, status, ms: Date.now() - started });
    };
    const overall = setTimeout(() => finish('timeout'), c.drip ? c.drip.forMs + 2000 : target.timeoutMs);
    socket.on('error', () => {});
    socket.on('close', () => finish(connected ? 'closed_without_response' : 'connect_failed'));
    socket.on('data', (chunk: Buffer) => {
      if (status !== null) return;
      received = Buffer.concat([received, chunk]).subarray(0, 64);
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received.toString('latin1'));
      if (match) {
        status = Number(match[1]);
        // The status is what counts; give the server a moment to finish its answer, then hang up.
        afterHead = setTimeout(() => finish('response'), status === 101 ? 50 : 500);
      } else if (received.length >= 64) finish('closed_without_response');
    });
    socket.on('connect', () => {
      connected = true;
      socket.write(c.head);
      if (!c.drip) {
        if (c.body.length) socket.write(c.body);
        return;
      }
      let i = 0;
      const dripStarted = Date.now();
      const { everyMs, forMs } = c.drip;
      dripTimer = setInterval(() => {
        if (Date.now() - dripStarted >= forMs) {
          clearInterval(dripTimer);
          return;
        }
        socket.write(c.body.subarray(i, i + 1));
        i++;
      }, everyMs);
    });
  });
}
