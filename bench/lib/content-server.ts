/**
 * The content module's routes (server/content/testing.ts: real content and file routes, real store and SQLite)
 * in a child process for the content-sync scenario, set up with an already-held item and a new `updateMiB` item
 * published through the editorial workflow, and `devices` registered devices. Replies `ready` over IPC.
 * Used while the content routes are not mounted in the full server (server/http/routes.ts).
 */
import { basic, client, sampleFiles, startContentTestServer } from '../../server/content/testing.js';

const devices = Number(process.argv[2] ?? 1000);
const updateMiB = Number(process.argv[3] ?? 50);
const server = await startContentTestServer({ maxUploadBytes: 1024 * 1024 * 1024 });
const editor = client(server.url, `Bearer ${server.addUser('bench.editor', 'editor')}`);
const approver = client(server.url, `Bearer ${server.addUser('bench.approver', 'approver')}`);

async function publish(bytes: Buffer, title: string): Promise<{ sha256: string; size: number }> {
  const created = await editor('POST', '/api/v1/content', { kind: 'video' });
  const { id } = (await created.json()) as { id: string };
  await editor('PUT', `/api/v1/content/${id}/translations/vi`, { title });
  const up = await editor('PUT', `/api/v1/content/${id}/translations/vi/file`, bytes, { 'content-type': 'video/mp4' });
  if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
  const { file } = (await up.json()) as { file: { sha256: string; size: number } };
  for (const [step, who] of [
    ['submit', editor],
    ['approve', approver],
    ['publish', approver],
  ] as const) {
    const res = await who('POST', `/api/v1/content/${id}/${step}`);
    if (res.status !== 200) throw new Error(`${step}: ${res.status} ${await res.text()}`);
  }
  return file;
}

const held = await publish(sampleFiles.mp4(10 * 1024 * 1024), 'Phim cũ (already on the kiosks)');
const update = await publish(sampleFiles.mp4(updateMiB * 1024 * 1024), 'Bản tin mới');
const sites = ['c-ia-dom', 's-ia-dom', 'c-ia-o'];
const creds = Array.from({ length: devices }, (_, i) => {
  const id = `content-${i}`;
  return { id, authorization: basic(id, server.addDevice(id, sites[i % sites.length] ?? null)) };
});
process.send?.({ type: 'ready', url: server.url, held, update, devices: creds });
process.on('message', (m: { type: string }) => {
  if (m.type === 'stop') void server.close().then(() => process.exit(0));
});
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
