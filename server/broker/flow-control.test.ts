/**
 * Flow control over real streams (PassThrough as the connection, as aedes sees a socket): what it costs while the
 * ingest queue is full, and the order in which connections are read again when there is room.
 */
import { PassThrough } from 'node:stream';
import type { Client, Connection } from 'aedes';
import { afterEach, expect, it } from 'vitest';
import { createFlowControl, type FlowControl } from './flow-control.js';

let flow: FlowControl | null = null;
afterEach(() => flow?.close());

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `n` connections of devices d0…d(n-1); each records, on 'readable', that it was read again. */
function fleet(n: number, ingestFull: () => boolean) {
  const devices = new Map<Client, string>();
  const control = createFlowControl({
    deviceOf: (client) => devices.get(client),
    ingestFull,
    onHeld: () => {},
    onPersisting: () => {},
  });
  flow = control;
  const readAgain: string[] = [];
  const streams = Array.from({ length: n }, (_, i) => {
    const client = {} as Client;
    devices.set(client, `d${i}`);
    const stream = new PassThrough();
    control.attach(client, stream as unknown as Connection);
    stream.on('readable', () => readAgain.push(`d${i}`));
    return stream;
  });
  return { control, streams, readAgain };
}

it('while the ingest queue stays full, a settle does not look at each waiting connection again', async () => {
  let checks = 0;
  const { control, streams, readAgain } = fleet(2_000, () => {
    checks++;
    return true;
  });
  for (const s of streams) expect(s.read()).toBeNull();
  await turn();
  checks = 0;
  // 100 commits settle, one sweep each; the queue is still full.
  for (let i = 0; i < 100; i++) {
    control.begin('d0', 10)();
    await turn();
  }
  expect(readAgain).toEqual([]);
  // One look at the queue per sweep, not one per waiting connection (that was 200 000).
  expect(checks).toBeLessThanOrEqual(200);
});

it('reads the waiting connections again oldest first, and stops as soon as the queue is full again', async () => {
  let room = 0;
  const { control, streams, readAgain } = fleet(5, () => room <= 0);
  for (const s of [...streams].reverse()) expect(s.read()).toBeNull(); // held in the order d4 … d0
  // Each connection read again fills one place (as aedes would, parsing its next publish).
  for (const s of streams) s.on('readable', () => room--);
  room = 2;
  control.begin('d0', 10)();
  await turn();
  expect(readAgain).toEqual(['d4', 'd3']);
  room = 10;
  control.begin('d0', 10)();
  await turn();
  expect(readAgain).toEqual(['d4', 'd3', 'd2', 'd1', 'd0']);
});

it('a connection read again and held again waits behind those that waited longer', async () => {
  let room = 0;
  const { control, streams, readAgain } = fleet(3, () => room <= 0);
  for (const s of streams) expect(s.read()).toBeNull(); // d0, d1, d2
  for (const s of streams) s.on('readable', () => room--);
  // d0, read again, reads its next publish at once and finds the queue full again.
  streams[0]?.once('readable', () => expect(streams[0]?.read()).toBeNull());
  room = 1;
  control.begin('d0', 10)();
  await turn();
  expect(readAgain).toEqual(['d0']);
  room = 3;
  control.begin('d0', 10)();
  await turn();
  expect(readAgain).toEqual(['d0', 'd1', 'd2', 'd0']);
});
