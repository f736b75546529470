/** Shapes that cross the HTTP boundary between devices/tools and the server (DESIGN §6, §8). */
import { z } from 'zod';
import { DeviceId, DeviceKind, Id, ShortText } from './domain.js';
import { DeviceSettings } from './messages.js';

/** `{error: {code, message}}`: every error response of the API. */
export const ApiError = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ApiError = z.infer<typeof ApiError>;

export const DeviceFacts = z.object({
  serial: ShortText,
  model: ShortText,
  mac: ShortText,
  hostname: ShortText,
});
export type DeviceFacts = z.infer<typeof DeviceFacts>;

/** `POST /api/v1/enroll`. */
export const EnrollRequest = z.object({
  token: z.string().min(8).max(200),
  facts: DeviceFacts,
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

/** What a device receives once: its identity, where to connect, and the key that signs its manifests. */
export const EnrollResponse = z.object({
  deviceId: DeviceId,
  secret: z.string().min(16).max(200),
  siteId: Id,
  mqttUrl: z.string().url(),
  apiUrl: z.string().url(),
  /** Ed25519 public key, SPKI PEM: the signing key current at enrollment (trusted until a keys document comes). */
  manifestKey: z.string().includes('BEGIN PUBLIC KEY'),
  /**
   * The root of trust the kiosk pins (DESIGN §7), SPKI PEM: it signs the keys document that lists the signing
   * keys. Absent from enrollments made before keys documents existed: such a kiosk takes `manifestKey` as its root.
   */
  rootKey: z.string().includes('BEGIN PUBLIC KEY').optional(),
  /**
   * The CA the kiosk pins for MQTT over TLS and HTTPS (PEM), and its SHA-256 fingerprint (`AB:CD:…`). Absent from
   * enrollments made before TLS, and when the server's certificate is the operator's without a CA file (system trust).
   */
  caPem: z.string().includes('BEGIN CERTIFICATE').optional(),
  caFingerprint: z
    .string()
    .regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    .optional(),
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;

/** `POST /api/v1/pairing`: an unenrolled agent asks for a short code to show on its screen. */
export const PairingRequest = z.object({ facts: DeviceFacts, kind: DeviceKind.default('kiosk') });
export type PairingRequest = z.infer<typeof PairingRequest>;

export const PairingStarted = z.object({
  /** Short code a person reads off the screen and types into the dashboard. */
  code: z.string().min(4).max(16),
  /** Secret the agent polls with; never shown. */
  pollToken: z.string().min(16).max(200),
  expiresAt: z.iso.datetime({ offset: true }),
});
export type PairingStarted = z.infer<typeof PairingStarted>;

/** `GET /api/v1/pairing/{pollToken}`: pending until a person claims the code, then the enrollment once. */
export const PairingPoll = z.discriminatedUnion('state', [
  z.object({ state: z.literal('pending'), expiresAt: z.iso.datetime({ offset: true }) }),
  z.object({ state: z.literal('claimed'), enrollment: EnrollResponse }),
]);
export type PairingPoll = z.infer<typeof PairingPoll>;

/**
 * The agent's config file: the enrollment response plus local settings. Written by enrollment
 * (provisioning CLI or pairing) with mode 0600, read by the agent.
 */
export const AgentConfigFile = EnrollResponse.extend({
  dataDir: z.string().min(1).default('./agent-data'),
  kioskPort: z.number().int().min(0).max(65_535).default(8090),
}).extend(DeviceSettings.shape);
export type AgentConfigFile = z.infer<typeof AgentConfigFile>;
