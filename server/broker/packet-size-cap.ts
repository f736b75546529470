/**
 * aedes 1.2 and mqtt-packet 9 have no packet size limit: a whole packet (up to MQTT's 256 MB) is buffered
 * before `authorizePublish` can look at it. This refuses a packet as soon as its fixed header announces a
 * length over `maxBytes`, by wrapping the client's parser step that reads the length
 * (node_modules/mqtt-packet/parser.js `_parseLength`; `_emitError` sets `error` and aedes closes the client).
 * If those internals change, nothing is wrapped and the size check in the message handler still drops it.
 */
import type { Client } from 'aedes';

interface PacketParser {
  packet: { length: number };
  _parseLength?: () => boolean;
  _emitError(error: Error): void;
}

/** Returns false when the parser could not be wrapped. */
export function capPacketSize(client: Client, maxBytes: number, onRefused: (length: number) => void): boolean {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  const parseLength = parser?._parseLength;
  if (!parser || typeof parseLength !== 'function' || typeof parser._emitError !== 'function') return false;
  parser._parseLength = function cappedParseLength(this: PacketParser): boolean {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      onRefused(this.packet.length);
      this._emitError(new Error(`packet of ${this.packet.length} bytes is over the limit of ${maxBytes}`));
      return false;
    }
    return complete;
  };
  return true;
}
