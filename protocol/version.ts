/** Version of the wire protocol (MQTT topics, message shapes, manifest). Bumped on breaking changes. */
export const PROTOCOL_VERSION = 1 as const;
