/**
 * Canonical JSON (RFC 8785 style): object keys sorted by UTF-16 code units, no insignificant white space,
 * numbers and strings as ECMAScript's JSON.stringify writes them. Same value → same bytes, whatever the key order.
 * The server signs these bytes; the agent verifies them.
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold ${value}`);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
  if (seen.has(value)) throw new TypeError('canonical JSON cannot hold a cycle');
  seen.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = `[${value.map((item) => write(item === undefined ? null : item, seen)).join(',')}]`;
  } else {
    const entries = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${write((value as Record<string, unknown>)[key], seen)}`);
    out = `{${entries.join(',')}}`;
  }
  seen.delete(value);
  return out;
}
