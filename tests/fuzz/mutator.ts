/**
 * The seeded in-process mutator shared by the MQTT and HTTP fuzzers: a small PRNG (sfc32) whose state comes
 * from (run seed, stream, case index), so every case can be rebuilt alone from those three values, plus
 * the nasty values and the JSON / byte mutations both fuzzers draw from.
 */

/** sfc32: fast, 128-bit state, good enough statistics for test-case generation. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = '', index = 0) {
    // FNV-1a over the three parts, spread into four words.
    let h = 0x811c9dc5;
    for (const ch of `${seed}:${stream}:${index}`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    this.a = h;
    this.b = h ^ 0x9e3779b9;
    this.c = Math.imul(h, 0x85ebca6b) >>> 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Strings that have broken parsers, validators, loggers and terminals before. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800', // lone high surrogate
  '\uDFFF', // lone low surrogate
  'x\uDC00\uD800y', // reversed pair
  '\u202Eevil\u202C', // right-to-left override
  '\u200F\u05D0\u05D1\u200E', // RLM, Hebrew, LRM
  '\uFEFF', // BOM
  '\uFFFF',
  'Z\u0351\u0360\u036B\u0343\u036A\u0302\u036B\u033D\u034F\u0334\u0319\u0324\u031E\u0349\u035A\u032F\u031E\u0320\u034D',
  '\u{1F600}\u{1F4A9}',
  'Đức Cơ — Ia Grai',
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%00',
  '%c0%ae%c0%ae/', // overlong '.'
  '%e0%80%af', // overlong '/'
  '%ZZ',
  '%',
  '<script>alert(1)</script>',
  "' OR '1'='1' --",
  '"; DROP TABLE devices; --',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell probe, meant literally
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'null',
  'true',
  '-1',
  '1e309',
  'NaN',
  '\r\nX-Injected: 1',
  '\t',
  '+',
  '#',
  '/',
  '$SYS/broker',
  'a'.repeat(65),
  'a'.repeat(257),
];

export const NASTY_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1,
  0.5,
  -0.000001,
  255,
  256,
  65_535,
  65_536,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  1e21,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_VALUE,
];

/** JSON number texts JSON.stringify never writes: they reach the server only as raw text. */
export const NASTY_NUMBER_TEXTS: readonly string[] = [
  '1e999',
  '-1e999',
  '9007199254740993',
  '123456789012345678901234567890',
  `0.${'0'.repeat(400)}1`,
  `1${'0'.repeat(400)}`,
  '-0.0e-0',
];

/** Byte sequences that are not valid UTF-8 (lone surrogate encoded, overlong, truncated, stray). */
export const BAD_UTF8: readonly Buffer[] = [
  Buffer.from([0xed, 0xa0, 0x80]), // U+D800 as UTF-8
  Buffer.from([0xc0, 0xae]), // overlong '.'
  Buffer.from([0xc0, 0x80]), // overlong NUL
  Buffer.from([0xe0, 0x80, 0xaf]), // overlong '/'
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xe2, 0x82]), // truncated
  Buffer.from([0x80]),
];

export function nastyString(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return 'x'.repeat(rng.pick([64, 65, 200, 201, 1000, 4001, 70_000]));
    case 1:
      return '\u{1F600}'.repeat(rng.pick([10, 1000, 50_000]));
    case 2:
      return rng.pick(NASTY_STRINGS) + rng.pick(NASTY_STRINGS);
    default:
      return rng.pick(NASTY_STRINGS);
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A value of a random JSON type (the "wrong type" for whatever the schema wanted). */
export function randomJson(rng: Rng, depth = 0): Json {
  const kind = rng.int(depth > 2 ? 4 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NASTY_NUMBERS);
    case 3:
      return nastyString(rng);
    case 4:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1));
    case 5: {
      const out: { [key: string]: Json } = {};
      for (let i = rng.int(4); i > 0; i--)
        out[rng.pick(['a', 'id', '__proto__', 'constructor', nastyString(rng)])] = randomJson(rng, depth + 1);
      return out;
    }
    default:
      return Array.from({ length: rng.pick([1000, 10_000]) }, () => rng.int(10));
  }
}

/** The paths of every node of a JSON value (the root is []). */
function nodePaths(value: Json, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(value)) {
    for (const [i, v] of value.slice(0, 50).entries()) nodePaths(v, [...path, i], out);
  } else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodePaths(v, [...path, k], out);
  return out;
}

function getAt(value: Json, path: (string | number)[]): Json {
  let node: Json = value;
  for (const key of path) node = (node as Record<string | number, Json>)[key] as Json;
  return node;
}

/** Replaces, removes or adds one node of a (cloned) JSON value; returns what was done. */
export function mutateJsonValue(rng: Rng, input: Json): { value: Json; note: string } {
  const value = structuredClone(input);
  const paths = nodePaths(value);
  const path = rng.pick(paths);
  const where = path.length ? path.join('.') : '(root)';
  const replacement = (): Json => {
    const current = getAt(value, path);
    switch (rng.int(5)) {
      case 0:
        return randomJson(rng);
      case 1:
        return typeof current === 'number' ? rng.pick(NASTY_NUMBERS) : nastyString(rng);
      case 2:
        return typeof current === 'string' ? current + nastyString(rng) : String(current);
      case 3:
        return Array.isArray(current)
          ? Array.from({ length: rng.pick([0, 501, 1001, 5000]) }, () => structuredClone(current[0] ?? null))
          : [current];
      default:
        return typeof current === 'number' ? -current : rng.pick(NASTY_NUMBERS);
    }
  };
  if (path.length === 0) return { value: replacement(), note: 'replaced the root' };
  const parent = getAt(value, path.slice(0, -1)) as Record<string | number, Json>;
  const key = path[path.length - 1] as string | number;
  const op = rng.int(4);
  if (op === 0 && !Array.isArray(parent)) {
    delete parent[key];
    return { value, note: `removed ${where}` };
  }
  if (op === 1 && !Array.isArray(parent)) {
    parent[rng.pick(['extra', '__proto__', 'constructor', nastyString(rng).slice(0, 40)])] = randomJson(rng);
    return { value, note: `added a key beside ${where}` };
  }
  parent[key] = replacement();
  return { value, note: `replaced ${where}` };
}

/** Mutations on JSON text that no JSON.stringify produces. */
export function mutateJsonText(rng: Rng, text: string): { text: string; note: string } {
  switch (rng.int(10)) {
    case 0:
      return { text: text.slice(0, rng.int(text.length + 1)), note: 'truncated JSON' };
    case 1:
      return { text: `${'['.repeat(rng.pick([100, 5000, 100_000]))}1`, note: 'deep nesting' };
    case 2:
      return { text: `\uFEFF${text}`, note: 'BOM before JSON' };
    case 3:
      return { text: text.replace(/\d+(\.\d+)?/, rng.pick(NASTY_NUMBER_TEXTS)), note: 'number text out of range' };
    case 4:
      return { text: text.replace('{', '{"a":1,"a":2,'), note: 'duplicate keys' };
    case 5:
      return { text: `${text},`, note: 'trailing comma' };
    case 6:
      return {
        text: text.replace(/"[^"]*"/, `"${rng.pick(['\\ud800', '\\udfff', '\\u0000', '\\x41', '\\'])}"`),
        note: 'escape in a string',
      };
    case 7:
      return { text: text.replace(/:/, ':NaN,"x":'), note: 'NaN token' };
    case 8:
      return { text: `${text}${text}`, note: 'two JSON documents' };
    default:
      return {
        text: rng.pick(['', 'null', '[]', '"x"', '0', 'undefined', '{', '}', '{"__proto__":{"admin":true}}']),
        note: 'other document',
      };
  }
}

/** Byte-level mutations: bit flips, random bytes, insertions, deletions, invalid UTF-8. */
export function mutateBytes(rng: Rng, input: Buffer): { bytes: Buffer; note: string } {
  if (input.length === 0) return { bytes: rng.bytes(rng.range(1, 16)), note: 'random bytes' };
  const at = rng.int(input.length);
  switch (rng.int(7)) {
    case 0: {
      const out = Buffer.from(input);
      out[at] = (out[at] as number) ^ (1 << rng.int(8));
      return { bytes: out, note: `bit flip at ${at}` };
    }
    case 1: {
      const out = Buffer.from(input);
      for (let i = rng.range(1, 8); i > 0; i--) out[rng.int(out.length)] = rng.pick([0x00, 0xff, 0x7f, 0x80, rng.int(256)]);
      return { bytes: out, note: 'random bytes overwritten' };
    }
    case 2:
      return {
        bytes: Buffer.concat([input.subarray(0, at), rng.bytes(rng.range(1, 32)), input.subarray(at)]),
        note: `inserted at ${at}`,
      };
    case 3:
      return { bytes: Buffer.concat([input.subarray(0, at), input.subarray(at + rng.range(1, 16))]), note: `deleted at ${at}` };
    case 4:
      return {
        bytes: Buffer.concat([input.subarray(0, at), rng.pick(BAD_UTF8), input.subarray(at)]),
        note: `invalid UTF-8 at ${at}`,
      };
    case 5:
      return { bytes: input.subarray(0, at), note: `truncated at ${at}` };
    default: {
      const len = rng.range(1, Math.min(64, input.length - at));
      const chunk = input.subarray(at, at + len);
      return {
        bytes: Buffer.concat([input.subarray(0, at), chunk, chunk, input.subarray(at)]),
        note: `duplicated ${len} bytes at ${at}`,
      };
    }
  }
}

/** A printable rendering of bytes for reports: ASCII kept, the rest as \xNN, cut at `max`. */
export function printable(bytes: Buffer, max = 400): string {
  let out = '';
  for (const b of bytes.subarray(0, max)) {
    if (b === 0x0d) out += '\\r';
    else if (b === 0x0a) out += '\\n';
    else if (b >= 0x20 && b < 0x7f && b !== 0x5c) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > max ? `${out}… (${bytes.length} bytes)` : out;
}
