/**
 * STAND-IN for the server's device content API (DESIGN §6), used only by agent tests while the real one is built in
 * parallel: `GET /api/v1/devices/{id}/manifest` (Basic auth, ETag, 304) and `GET /files/{sha256}` (Basic auth,
 * `Range: bytes=N-` → 206, 416 beyond the end). It signs with protocol's `signManifest` and can misbehave on demand.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  generateSigningKeys,
  type Manifest,
  type ManifestFile,
  type ManifestItem,
  type SignedManifest,
  type SigningKeys,
  signManifest,
} from '../../protocol/index.js';

export interface StandInOptions {
  deviceId: string;
  secret: string;
  /** Bytes per write when serving files (the "chunk" of the resume test). */
  chunkBytes?: number;
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

export class ContentApiStandIn {
  readonly keys: SigningKeys = generateSigningKeys();
  readonly files = new Map<string, Buffer>();
  /** Bytes actually written to sockets, per file. */
  readonly bytesServed = new Map<string, number>();
  readonly requests: Array<{ path: string; range: string | undefined; status: number }> = [];
  /** Cut the connection after this many bytes of a file's response body (once). */
  readonly cutAfter = new Map<string, number>();
  /** Serve these bytes instead of the real ones for a file. */
  readonly corrupt = new Map<string, Buffer>();
  /** Answer the next N requests of any kind with 503. */
  fail5xx = 0;
  /** Delay between chunks (ms), to keep a download in flight. */
  chunkDelayMs = 0;
  private body: unknown = null;
  private etag: string | null = null;
  private readonly server = createServer((req, res) => this.handle(req, res));
  url = '';

  constructor(private readonly o: StandInOptions) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addFile(bytes: Buffer, mime = 'application/octet-stream'): ManifestFile {
    const hash = sha256(bytes);
    this.files.set(hash, bytes);
    return { sha256: hash, size: bytes.length, mime };
  }

  /** Signs and publishes a manifest for the device (or another device id, to test refusal). */
  publish(seq: number, items: ManifestItem[], opts: { deviceId?: string; keys?: SigningKeys } = {}): SignedManifest {
    const manifest: Manifest = {
      v: 1,
      deviceId: opts.deviceId ?? this.o.deviceId,
      seq,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      items,
    };
    const signed = signManifest(manifest, opts.keys ?? this.keys);
    this.setRaw(signed);
    return signed;
  }

  /** Serves any body as the manifest (e.g. a signed manifest with a tampered field). */
  setRaw(body: unknown): void {
    this.body = body;
    this.etag = `"${sha256(Buffer.from(JSON.stringify(body))).slice(0, 16)}"`;
  }

  totalBytesServed(): number {
    return [...this.bytesServed.values()].reduce((a, b) => a + b, 0);
  }

  private authorized(req: IncomingMessage): boolean {
    const expected = `Basic ${Buffer.from(`${this.o.deviceId}:${this.o.secret}`).toString('base64')}`;
    return req.headers.authorization === expected;
  }

  private reply(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ): void {
    this.requests.push({ path: req.url ?? '', range: req.headers.range, status });
    res.writeHead(status, headers);
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '';
    if (this.fail5xx > 0) {
      this.fail5xx--;
      return this.reply(req, res, 503, '{"error":{"code":"unavailable","message":"try later"}}');
    }
    if (!this.authorized(req)) return this.reply(req, res, 401, '{"error":{"code":"unauthorized","message":"no"}}');
    if (path === `/api/v1/devices/${this.o.deviceId}/manifest`) {
      if (this.body === null) return this.reply(req, res, 404, '{"error":{"code":"not_found","message":"none"}}');
      if (this.etag && req.headers['if-none-match'] === this.etag) return this.reply(req, res, 304);
      return this.reply(req, res, 200, JSON.stringify(this.body), { 'content-type': 'application/json', etag: this.etag ?? '' });
    }
    const m = /^\/files\/([0-9a-f]{64})$/.exec(path);
    const real = m ? this.files.get(m[1] as string) : undefined;
    if (!m || !real) return this.reply(req, res, 404, '{"error":{"code":"not_found","message":"none"}}');
    const hash = m[1] as string;
    const bytes = this.corrupt.get(hash) ?? real;
    let start = 0;
    const range = req.headers.range;
    if (range) {
      const r = /^bytes=(\d+)-$/.exec(range);
      start = r ? Number(r[1]) : 0;
      if (start >= bytes.length) {
        return this.reply(req, res, 416, undefined, { 'content-range': `bytes */${bytes.length}` });
      }
    }
    const status = range ? 206 : 200;
    this.requests.push({ path, range, status });
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length - start),
    };
    if (range) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(status, headers);
    void this.stream(res, hash, bytes.subarray(start));
  }

  private async stream(res: ServerResponse, hash: string, body: Buffer): Promise<void> {
    const chunk = this.o.chunkBytes ?? 64 * 1024;
    const cut = this.cutAfter.get(hash);
    for (let off = 0; off < body.length; off += chunk) {
      let piece = body.subarray(off, Math.min(off + chunk, body.length));
      let cutting = false;
      if (cut !== undefined && off + piece.length >= cut) {
        piece = piece.subarray(0, cut - off);
        cutting = true;
      }
      if (res.destroyed) return;
      const ok = res.write(piece);
      this.bytesServed.set(hash, (this.bytesServed.get(hash) ?? 0) + piece.length);
      if (cutting) {
        this.cutAfter.delete(hash);
        // Let the bytes reach the socket, then drop it mid-body: a truncated transfer.
        await new Promise((r) => setTimeout(r, 50));
        res.socket?.destroy();
        return;
      }
      if (!ok) await new Promise((r) => res.once('drain', r));
      if (this.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
    }
    res.end();
  }
}
