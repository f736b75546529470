/**
 * The TLS material the listeners serve right now, and how it changes while the server runs: `reload()` (SIGHUP)
 * re-reads the operator's files — or re-checks the generated certificate — and `renew()` re-issues the generated
 * server certificate from the same CA. Either one hands the new material to every attached listener with
 * `tls.Server#setSecureContext`, which applies to new handshakes only: connected kiosks stay connected.
 */
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { loadTlsMaterial, type TlsMaterial, type TlsSettings } from './certificates.js';

/** TLS 1.2 is the oldest version any listener accepts (issue 13). */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export class TlsState {
  private readonly servers = new Set<TlsServer>();
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly settings: TlsSettings,
    private readonly log: Logger,
    private current: TlsMaterial,
  ) {}

  /** Loads (or on first start makes) the material; throws a readable error when the operator's files are unusable. */
  static async open(settings: TlsSettings, log: Logger): Promise<TlsState> {
    const material = await loadTlsMaterial(settings);
    if (material.renewed) log.info({ names: material.names, notAfter: material.notAfter }, 'issued a server certificate');
    return new TlsState(settings, log, material);
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /**
   * What `tls.createServer` / `setSecureContext` take. The chain sent ends with the CA devices pin (when not in the
   * certificate file already): the technician's CLI finds it there by the fingerprint in the enrollment link.
   */
  secureContextOptions(): SecureContextOptions {
    const { certPem, keyPem, caPem } = this.current;
    const chain = caPem && !certPem.includes(caPem.trim()) ? `${certPem.trimEnd()}\n${caPem}` : certPem;
    return { cert: chain, key: keyPem, minVersion: TLS_MIN_VERSION };
  }

  /** Keeps a listener on the current material from now on. */
  attach(server: TlsServer): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /** Re-reads the operator's files (or re-checks the generated certificate, renewing it when due) and applies them. */
  reload(): Promise<TlsMaterial> {
    return this.apply(false);
  }

  /** Re-issues the generated server certificate from the same CA now (not possible for an operator's certificate). */
  renew(): Promise<TlsMaterial> {
    if (this.current.source === 'operator') {
      return Promise.reject(
        new Error('the server certificate is the operator\u2019s (TLS_CERT_FILE): renew it at its CA, then reload'),
      );
    }
    return this.apply(true);
  }

  /** Checks every `intervalMs` whether the generated certificate is due for renewal (and warns about an operator's). */
  startRenewalChecks(intervalMs: number): void {
    if (this.timer || intervalMs <= 0) return;
    this.timer = setInterval(() => {
      const left = this.current.notAfter.getTime() - Date.now();
      if (this.current.source === 'operator') {
        if (left <= this.settings.renewBeforeMs) {
          this.log.warn(
            { notAfter: this.current.notAfter },
            'the operator\u2019s server certificate expires soon: renew it and send SIGHUP',
          );
        }
        return;
      }
      if (left <= this.settings.renewBeforeMs) {
        this.reload().catch((err: Error) => this.log.error({ err }, 'server certificate renewal failed'));
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private apply(force: boolean): Promise<TlsMaterial> {
    // One change at a time: a SIGHUP during a renewal waits for it.
    const next = this.pending.then(async () => {
      const material = await loadTlsMaterial(this.settings, force);
      const caChanged = material.caFingerprint !== this.current.caFingerprint;
      this.current = material;
      const options = this.secureContextOptions();
      for (const server of this.servers) server.setSecureContext(options);
      this.log.info(
        {
          source: material.source,
          names: material.names,
          notAfter: material.notAfter,
          renewed: material.renewed,
          caFingerprint: material.caFingerprint,
        },
        caChanged
          ? 'TLS material reloaded: the CA changed (kiosks pinned to the old CA will refuse this server)'
          : 'TLS material reloaded',
      );
      return material;
    });
    // A failed reload keeps the material in use; the next one starts from it.
    this.pending = next.catch(() => undefined);
    return next;
  }
}
