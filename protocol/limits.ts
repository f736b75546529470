/** Bounds every message obeys, so one misbehaving device cannot exhaust the server. */
export const LIMITS = {
  /** Largest MQTT payload the server accepts, in bytes. */
  maxPayloadBytes: 256 * 1024,
  /** Samples in one `health` publish (a flush of a buffered backlog is split into batches of this size). */
  maxHealthSamples: 500,
  /**
   * The longest a kiosk holds health samples before sending them (AGENT_HEALTH_SEND_INTERVAL_S, agent/config.ts,
   * refuses more): the server's offline threshold is never shorter than twice it (server/coverage/fleet-rules.ts).
   */
  maxHealthSendIntervalS: 1800,
  /** Play-statistics rows in one `stats` publish. */
  maxStatsDays: 1000,
  /** Items in one manifest. */
  maxManifestItems: 5000,
  /** Length of a topic segment (device id, command id). */
  maxIdLength: 64,
  shortText: 200,
  longText: 4000,
  /** Body of a text bulletin in a manifest. */
  maxBodyChars: 200_000,
} as const;
