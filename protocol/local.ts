/** The agent's local HTTP API on 127.0.0.1, read by the kiosk page (DESIGN §8). */
import { z } from 'zod';
import { DeviceId, Id, LangTag, Seq } from './domain.js';
import { ManifestItem } from './manifest.js';

/** `GET /local/manifest`: what the kiosk page shows, always answerable offline. */
export const LocalManifest = z.object({
  /** Null until the kiosk is enrolled. */
  deviceId: DeviceId.nullable(),
  siteId: Id.nullable(),
  /** Whether the agent's link to the server is up right now. */
  online: z.boolean(),
  /** Set while an unenrolled kiosk waits for a technician to claim its pairing code. */
  pairing: z.object({ code: z.string(), expiresAt: z.iso.datetime({ offset: true }) }).nullable(),
  /** Seq of the manifest currently shown (0 = no content yet). */
  seq: Seq,
  /** When the content on screen was last updated (the current manifest applied). */
  appliedAt: z.iso.datetime({ offset: true }).nullable(),
  /** Items valid now in the device's local time; files are under `/local/files/{sha256}`. */
  items: z.array(ManifestItem),
});
export type LocalManifest = z.infer<typeof LocalManifest>;

/** `POST /local/stats`: anonymous view counts from the kiosk page. */
export const LocalViews = z.object({
  views: z
    .array(
      z.object({
        itemId: Id,
        lang: LangTag,
        seconds: z.number().nonnegative().max(86_400),
      }),
    )
    .min(1)
    .max(100),
});
export type LocalViews = z.infer<typeof LocalViews>;

/** `POST /local/heartbeat`: the kiosk page says it is alive (its JS runs); the agent's browser watchdog counts on it. */
export const LocalHeartbeat = z.object({
  /** Seconds since the page was loaded (monotonic in the page). */
  uptimeS: z.number().nonnegative().max(315_360_000),
  /** The screen on show (`data-screen`), for the watchdog status. */
  screen: z.string().max(40).optional(),
  /** The page's JS heap in use, where the browser tells it (Chromium's `performance.memory`). */
  heapBytes: z.number().int().nonnegative().optional(),
});
export type LocalHeartbeat = z.infer<typeof LocalHeartbeat>;

/** The answer to a heartbeat: how often the agent wants the next ones. */
export const LocalHeartbeatReply = z.object({ intervalMs: z.number().int().min(100).max(600_000) });
export type LocalHeartbeatReply = z.infer<typeof LocalHeartbeatReply>;
