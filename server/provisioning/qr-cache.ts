/**
 * The QR of an enrollment token encodes the token itself, and the database keeps only the token's hash, so
 * the QR cannot be rendered later from the database. Instead the QR payload is kept in this process's memory
 * from creation until the token is used or expires: nothing secret is written to disk, and after a server
 * restart the QR is simply gone (the token still works; the CLI renders its own QR in the terminal).
 */
import QRCode from 'qrcode';

const MAX_ENTRIES = 10_000;

/**
 * What the QR encodes: the server to enroll with and the token, as one link (documented in docs/provisioning.md),
 * plus `&ca=<SHA-256 of the server's CA, 64 hex digits>` when there is one, so the CLI checks the server before
 * it sends the token (docs/deployment.md).
 */
export function enrollmentLink(publicUrl: string, token: string, caFingerprint?: string | null): string {
  const ca = caFingerprint ? `&ca=${caFingerprint.replaceAll(':', '').toLowerCase()}` : '';
  return `${publicUrl.replace(/\/+$/, '')}/enroll#token=${encodeURIComponent(token)}${ca}`;
}

export class QrCache {
  private readonly entries = new Map<string, { payload: string; expiresAt: number }>();

  constructor(private readonly now: () => number) {}

  remember(id: string, payload: string, expiresAt: number): void {
    if (this.entries.size >= MAX_ENTRIES) this.prune();
    this.entries.set(id, { payload, expiresAt });
  }

  payload(id: string): string | null {
    const entry = this.entries.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(id);
      return null;
    }
    return entry.payload;
  }

  forget(id: string): void {
    this.entries.delete(id);
  }

  private prune(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(id);
    while (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

export function renderQrSvg(payload: string): Promise<string> {
  return QRCode.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

export function renderQrPng(payload: string): Promise<Buffer> {
  return QRCode.toBuffer(payload, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 });
}
