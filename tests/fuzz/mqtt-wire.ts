/** MQTT framing at the byte level (fixed header, remaining-length varint), for recording, mutating and reading replies. */

export const PACKET_NAMES = [
  'reserved0',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
] as const;

/** The remaining-length varint of MQTT (1–4 bytes, 7 bits each, little end first). */
export function encodeVarint(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    out.push(byte);
  } while (rest > 0 && out.length < 8);
  return Buffer.from(out);
}

export interface Frame {
  /** Packet type, the high nibble of the first byte. */
  type: number;
  flags: number;
  /** Offset of the body inside the buffer it was read from. */
  bodyStart: number;
  length: number;
  /** The whole packet (header + body). */
  bytes: Buffer;
}

/**
 * Splits a byte stream into complete packets; returns them and how many bytes were consumed
 * (the rest is an incomplete packet, or garbage when `bad` is set).
 */
export function splitFrames(buffer: Buffer): { frames: Frame[]; consumed: number; bad: boolean } {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset + 2 <= buffer.length) {
    const first = buffer[offset] as number;
    let length = 0;
    let multiplier = 1;
    let i = offset + 1;
    let done = false;
    for (let n = 0; n < 4 && i < buffer.length; n++, i++) {
      const byte = buffer[i] as number;
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) === 0) {
        done = true;
        i++;
        break;
      }
    }
    if (!done) return { frames, consumed: offset, bad: i - offset > 4 };
    if (i + length > buffer.length) break;
    frames.push({
      type: first >> 4,
      flags: first & 0x0f,
      bodyStart: i - offset,
      length,
      bytes: buffer.subarray(offset, i + length),
    });
    offset = i + length;
  }
  return { frames, consumed: offset, bad: false };
}
