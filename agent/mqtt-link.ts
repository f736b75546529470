/**
 * The agent's MQTT connection: persistent session (clientId = deviceId, clean: false), retained `status` with a last
 * will, and reconnects driven here with full-jitter backoff. mqtt.js's own `reconnectPeriod` is a fixed delay, so it is
 * set to 0 and `client.reconnect()` is called on our schedule instead.
 */
import { connect as tlsConnect } from 'node:tls';
import mqtt, { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type DevicePublishKind, type StatusMessage, topics } from '../protocol/index.js';
import { fullJitterDelay } from './backoff.js';
import { assertSecureLink, currentCas, type PinnedCas, pinnedTlsStream } from './link-security.js';

export interface MqttLinkOptions {
  url: string;
  deviceId: string;
  secret: string;
  /**
   * The CAs pinned (the keys document's `tlsCas`, else the enrollment CA): a TLS link (mqtts://, wss://) trusts only
   * them. A function is read again before every reconnect, so a kiosk follows a CA change (DESIGN §7). None = the
   * system's CAs.
   */
  ca?: PinnedCas;
  /**
   * The server-time estimate (agent/clock.ts) an mqtts:// certificate's validity is judged on, with the wall clock and
   * a floor (link-security.ts tlsTimeEstimate): a kiosk whose wall clock is behind still connects.
   */
  serverTime?: () => number;
  /** The version of the keys document the kiosk holds, sent in its `status` (the server counts who holds a new CA). */
  keysVersion?: () => number | undefined;
  /** Lab only: allow a plaintext URL that is not loopback (docs/deployment.md). */
  allowPlaintext?: boolean;
  agentVersion: string;
  bootId: string;
  reconnectBaseMs: number;
  reconnectCapMs: number;
  /**
   * MQTT keepalive, seconds (config `mqttKeepaliveS`). mqtt.js sends a PINGREQ only when nothing it sent was
   * acknowledged for this long (`reschedulePings`), so health publishes replace pings; aedes closes a connection
   * silent for 1.5 × it. Default 1200.
   */
  keepaliveS?: number;
  clock: () => number;
  log: Logger;
  onUp: () => void;
  onDown: () => void;
  onMessage: (kind: 'commands' | 'manifest', payload: Buffer) => void;
}

export class MqttLink {
  private client: MqttClient | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private up = false;

  constructor(private readonly o: MqttLinkOptions) {
    assertSecureLink(o.url, o.allowPlaintext ?? false, 'MQTT URL');
  }

  get online(): boolean {
    return this.up;
  }

  start(): void {
    const { deviceId } = this.o;
    const status = (online: boolean): string => this.statusJson(online);
    const ca = currentCas(this.o.ca);
    const options = {
      clientId: deviceId,
      username: deviceId,
      password: this.o.secret,
      ...(ca ? { ca, rejectUnauthorized: true } : {}),
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      keepalive: this.o.keepaliveS ?? 1200,
      // The default, spelled out: a PUBACK (a health batch acknowledged) moves the next ping out by a keepalive.
      reschedulePings: true,
      will: { topic: topics.status(deviceId), payload: Buffer.from(status(false)), qos: 1, retain: true },
    } as const;
    const url = new URL(this.o.url);
    // mqtts:// with pinned CAs: a TLS socket to the CAs pinned at each (re)connect (DESIGN §7), verified by OpenSSL on
    // the wall clock. Only once OpenSSL said "not yet valid" (a clock behind: a dead RTC battery, a renewal a day
    // ahead) does the next connect use the stream judged on the time estimate (link-security.ts), which holds the
    // CONNECT until the peer passed. wss:// keeps mqtt.js's TLS (OpenSSL on the wall clock).
    let clockBehind = false;
    const client =
      ca && url.protocol === 'mqtts:'
        ? new MqttClient(() => {
            const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
            const pinned = currentCas(this.o.ca) ?? ca;
            const target = { host, port: Number(url.port || 8883), ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) };
            if (clockBehind) return pinnedTlsStream(target, pinned, this.o.serverTime);
            const socket = tlsConnect({ ...target, ca: pinned, rejectUnauthorized: true });
            socket.once('error', (err: NodeJS.ErrnoException) => {
              if (err.code === 'CERT_NOT_YET_VALID') clockBehind = true;
            });
            return socket;
          }, options)
        : mqtt.connect(this.o.url, { ...options, ...(ca ? { ca, rejectUnauthorized: true } : {}) });
    this.client = client;
    client.on('connect', () => {
      this.attempt = 0;
      this.up = true;
      this.o.log.info('mqtt connected');
      client.publish(topics.status(deviceId), status(true), { qos: 1, retain: true });
      client.subscribe([topics.commands(deviceId), topics.manifest(deviceId)], { qos: 1 }, (err) => {
        if (err) this.o.log.warn({ err: err.message }, 'subscribe failed');
      });
      this.o.onUp();
    });
    client.on('message', (topic, payload) => {
      if (topic === topics.commands(deviceId)) this.o.onMessage('commands', payload);
      else if (topic === topics.manifest(deviceId)) this.o.onMessage('manifest', payload);
    });
    client.on('error', (err) => this.o.log.warn({ err: err.message }, 'mqtt error'));
    client.on('close', () => {
      if (this.up) {
        this.up = false;
        this.o.log.warn('mqtt link down');
        this.o.onDown();
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closing || this.timer) return;
    const delay = fullJitterDelay(this.attempt++, this.o.reconnectBaseMs, this.o.reconnectCapMs);
    this.o.log.debug({ delay, attempt: this.attempt }, 'mqtt reconnect scheduled');
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closing && this.client && !this.client.connected) {
        // mqtt.js builds each new TLS socket from these options: the CAs pinned now, not those of the first connect.
        const ca = currentCas(this.o.ca);
        if (ca) Object.assign(this.client.options, { ca, rejectUnauthorized: true });
        this.client.reconnect();
      }
    }, delay);
  }

  private statusJson(online: boolean): string {
    const keysVersion = this.o.keysVersion?.();
    return JSON.stringify({
      online,
      ts: this.o.clock(),
      agentVersion: this.o.agentVersion,
      bootId: this.o.bootId,
      ...(keysVersion !== undefined ? { keysVersion } : {}),
    } satisfies StatusMessage);
  }

  /** Publishes `status` again (online) — after the kiosk took a new keys document, so the server knows it holds it. */
  republishStatus(): void {
    if (this.client && this.up)
      this.client.publish(topics.status(this.o.deviceId), this.statusJson(true), { qos: 1, retain: true });
  }

  /** QoS 1 publish; resolves on PUBACK. Rejects when the link is down, so the caller keeps the data on disk. */
  publish(kind: DevicePublishKind, payload: unknown): Promise<void> {
    return this.publishTopic(topics[kind](this.o.deviceId), payload);
  }

  publishCommandResult(commandId: string, payload: unknown): Promise<void> {
    return this.publishTopic(topics.commandResult(this.o.deviceId, commandId), payload);
  }

  private publishTopic(topic: string, payload: unknown): Promise<void> {
    const client = this.client;
    if (!client || !this.up) return Promise.reject(new Error('mqtt link is down'));
    return new Promise((resolve, reject) => {
      client.publish(topic, JSON.stringify(payload), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    if (!client) return;
    if (this.up) {
      // A clean shutdown says so itself; the will is for power cuts and crashes.
      await new Promise<void>((resolve) => {
        client.publish(topics.status(this.o.deviceId), this.statusJson(false), { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000).unref();
      });
    }
    await client.endAsync(true);
  }
}
