/**
 * A helper process the field stand starts inside a namespace (`ip netns exec NS node --import tsx field-control.ts`,
 * IPC channel inherited): it makes the HTTP requests the parent cannot make from the root namespace (the admin's
 * API calls on the server's side, the enrollment and the kiosk page on the kiosk's side) and answers over IPC.
 * With `caFile`, only that CA is trusted (the kiosk's pinned CA).
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';

export interface ControlRequest {
  id: number;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The body is this file's bytes (a large upload does not cross the IPC channel). */
  bodyFile?: string;
  caFile?: string;
  timeoutMs?: number;
}

export type ControlReply =
  | { id: number; status: number; headers: Record<string, string>; cookies: string[]; text: string }
  | { id: number; error: string };

const dispatchers = new Map<string, Agent>();
function dispatcher(caFile: string): Agent {
  let d = dispatchers.get(caFile);
  if (!d) {
    d = new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
    dispatchers.set(caFile, d);
  }
  return d;
}

async function handle(r: ControlRequest): Promise<ControlReply> {
  try {
    const body = r.bodyFile ? readFileSync(r.bodyFile) : r.body;
    const res = await fetch(r.url, {
      method: r.method ?? 'GET',
      headers: r.headers ?? {},
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(r.timeoutMs ?? 30_000),
      ...(r.caFile ? { dispatcher: dispatcher(r.caFile) } : {}),
    } as RequestInit);
    const headers = Object.fromEntries(res.headers);
    return { id: r.id, status: res.status, headers, cookies: res.headers.getSetCookie(), text: await res.text() };
  } catch (error) {
    const e = error as Error & { cause?: Error };
    return { id: r.id, error: `${e.message}${e.cause ? `: ${e.cause.message}` : ''}` };
  }
}

if (!process.send) throw new Error('field-control.ts runs as a child with an IPC channel');
process.on('message', (m: ControlRequest | { type: 'stop' }) => {
  if ('type' in m) {
    process.disconnect();
    return;
  }
  void handle(m).then((reply) => process.send?.(reply));
});
process.on('disconnect', () => process.exit(0));
