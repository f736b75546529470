/**
 * Builds mutated HTTP requests, as raw bytes, over every operation of the server's own `/api/openapi.json`.
 * Case `index` of run `seed` is always the same request: the operation is taken round-robin (every route
 * gets its share), then path, query, headers, credentials and body are mutated from a seeded Rng.
 */
import { mutateBytes, mutateJsonText, mutateJsonValue, NASTY_NUMBER_TEXTS, nastyString, Rng } from './mutator.js';

export interface Operation {
  method: string;
  /** OpenAPI form, `{param}`. */
  path: string;
  params: string[];
  requestSchema?: JsonSchema;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  format?: string;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> }; parameters?: { name: string }[] }>
  >;
}

export function operationsOf(doc: OpenApiDocument): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      ops.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? []).map((p) => p.name),
        ...(schema ? { requestSchema: schema } : {}),
      });
    }
  }
  return ops.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

export interface HttpFuzzContext {
  /** `127.0.0.1:port` for the Host header. */
  host: string;
  /** `fleet_session=…` of the signed-in admin. */
  cookie: string;
  /** An API token of the admin. */
  bearer: string;
  /** `Basic …` of an enrolled device. */
  deviceBasic: string;
  /** Ids that exist (sites, devices, plans) so handlers get past their lookups. */
  knownIds: string[];
  /** Ids that no state-changing request may name (the well-behaved device, the fuzzed device, the admin). */
  protectedIds: string[];
}

export interface HttpCase {
  index: number;
  /** `METHOD path` of the operation this case started from. */
  operation: string;
  /** Request head and body as written; for a drip, the body follows the head byte by byte. */
  head: Buffer;
  body: Buffer;
  drip: { everyMs: number; forMs: number } | null;
  notes: string[];
}

const KEY_HINTS: Record<string, unknown> = {
  siteId: 'gl-c-iao',
  username: 'fuzz-user',
  password: 'fuzz-password-1234',
  token: 'tok-0123456789abcdef',
  lang: 'vi',
  code: 'ABCD-1234',
  name: 'fuzz',
  serial: 'SN-1',
  model: 'm',
  mac: '00:11:22:33:44:55',
  hostname: 'kiosk',
  reason: 'fuzzing',
};

/** A value the schema accepts (best effort: patterns are not solved, key names give hints). */
export function exampleOf(schema: JsonSchema | undefined, key = '', depth = 0): unknown {
  if (!schema || depth > 6) return null;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const alt = schema.oneOf ?? schema.anyOf;
  if (alt?.length) return exampleOf(alt[0], key, depth + 1);
  if (schema.allOf?.length) return Object.assign({}, ...schema.allOf.map((s) => exampleOf(s, key, depth + 1) as object));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(schema.properties ?? {})) out[k] = exampleOf(s, k, depth + 1);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => exampleOf(schema.items, key, depth + 1));
    case 'string':
      if (key in KEY_HINTS) return KEY_HINTS[key];
      if (schema.format === 'date') return '2025-07-01';
      if (schema.format === 'date-time') return '2025-07-01T00:00:00Z';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return key in KEY_HINTS ? KEY_HINTS[key] : 'x';
  }
}

/** Bodies for routes whose schema the document does not carry (users, content, plans, imports). */
function looseBody(rng: Rng): unknown {
  const keys = [
    'username',
    'role',
    'password',
    'disabled',
    'title',
    'kind',
    'topics',
    'translations',
    'name',
    'reason',
    'siteId',
    'ttlDays',
    'id',
    'targets',
    'validFrom',
    'validTo',
  ];
  const values = [
    'admin',
    'editor',
    'approver',
    'bulletin',
    'webpage',
    true,
    false,
    0,
    -1,
    null,
    [],
    {},
    'vi',
    '2025-07-01',
    'gl-c-iao',
    { vi: { title: 't', body: 'b' } },
  ];
  const out: Record<string, unknown> = {};
  for (let i = rng.range(1, 5); i > 0; i--) out[rng.pick(keys)] = rng.chance(0.7) ? rng.pick(values) : nastyString(rng);
  return out;
}

const QUERY_KEYS = [
  'asOf',
  'include',
  'limit',
  'offset',
  'all',
  'from',
  'to',
  'paceDays',
  'plan',
  'kind',
  'parent',
  'border',
  'site',
  'resolution',
  'before',
  'actor',
  'action',
  'ttl',
  'siteId',
  'atomic',
  'q',
  'status',
  'state',
  'lang',
];
const QUERY_VALUES = [
  '',
  '0',
  '-1',
  '1e309',
  '99999999999999999999',
  'NaN',
  'true',
  '2025-13-45',
  '2025-07-01',
  '0000-00-00',
  'sites',
  'raw',
  'hour',
  '1',
  '%ZZ',
  '%00',
  '%E2%80%AE',
  '%ED%A0%80',
  'gl-c-iao',
];

function fillParam(rng: Rng, name: string, ctx: HttpFuzzContext): string {
  const roll = rng.int(10);
  if (roll < 4) {
    if (name === 'sha256')
      return rng.chance(0.5) ? 'a'.repeat(64) : 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    if (name === 'lang') return rng.pick(['vi', 'en', 'jra', 'zh-Hant-TW']);
    if (name === 'username') return rng.pick(['fuzz-user', 'nobody']);
    if (name === 'name') return rng.pick(['app.js', 'app.css', 'index.html', 'noto-sans.woff2']);
    return rng.pick(ctx.knownIds);
  }
  if (roll < 6) return pct(nastyString(rng));
  if (roll < 8) return nastyString(rng).replace(/[\s?#]/g, '');
  return rng.pick([
    'does-not-exist',
    '0',
    '-1',
    '1e309',
    '%2e%2e',
    '..',
    '.',
    '%2F',
    'a%00b',
    '%c0%ae%c0%ae',
    '%',
    'x'.repeat(5000),
  ]);
}

function pathTrick(rng: Rng, path: string, host: string): { path: string; note: string } {
  switch (rng.int(14)) {
    case 0:
      return { path: `/${path}`, note: 'leading //' };
    case 1:
      return { path: `//@${rng.pick(['evil.example', host, ''])}${path}`, note: 'leading //@' };
    case 2:
      return { path: path.replace(/\/(?=[^/]*$)/, '//'), note: 'inner //' };
    case 3:
      return {
        path: `${path}/${rng.pick(['..', '../..', '%2e%2e', '%2e%2e%2f', '..%2f..%2f', '.', '%c0%ae%c0%ae', '%e0%80%ae%e0%80%ae'])}/${rng.pick(['', 'etc/passwd', 'api/v1/users'])}`,
        note: 'dot segments',
      };
    case 4:
      return {
        path: `${path}${rng.pick(['%00', '%00.json', ';x=1', '/', '?', '#frag', '%', '%ZZ', '%c0%af', '%2F'])}`,
        note: 'odd suffix',
      };
    case 5:
      return { path: `http://${rng.pick([host, 'evil.example', 'user@evil.example'])}${path}`, note: 'absolute-form target' };
    case 6:
      return { path: '*', note: 'asterisk target' };
    case 7:
      return { path: path.toUpperCase(), note: 'upper case' };
    case 8:
      return { path: path.replace(/\//g, '\\'), note: 'backslashes' };
    case 9:
      return { path: `${path}/${'a'.repeat(rng.pick([4000, 17_000, 70_000]))}`, note: 'long path' };
    case 10:
      return { path: `/api/../..${path}`, note: 'leading dot segments' };
    case 11:
      return { path: path.replace(/\//g, '/./'), note: '/./ segments' };
    case 12:
      return { path: '', note: 'empty target' };
    default:
      return { path: `${path}\u202E\uFEFF`, note: 'raw non-ASCII in target' };
  }
}

function authHeader(rng: Rng, ctx: HttpFuzzContext): { lines: string[]; note: string; valid: boolean } {
  switch (rng.int(12)) {
    case 0:
    case 1:
      return { lines: [], note: 'no credentials', valid: false };
    case 2:
    case 3:
    case 4:
      return { lines: [`Cookie: ${ctx.cookie}`], note: 'admin cookie', valid: true };
    case 5:
    case 6:
      return { lines: [`Authorization: Bearer ${ctx.bearer}`], note: 'admin bearer', valid: true };
    case 7:
      return { lines: [`Authorization: ${ctx.deviceBasic}`], note: 'device basic', valid: true };
    case 8:
      return {
        lines: [
          `Cookie: ${rng.pick(['fleet_session=', 'fleet_session=x', `fleet_session=${'A'.repeat(8000)}`, 'fleet_session="\\"', 'a=b; fleet_session=1; fleet_session=2', '=;;=', `fleet_session=${ctx.cookie.split('=')[1]}x`, 'fleet_session=%ZZ%00'])}`,
        ],
        note: 'bad cookie',
        valid: false,
      };
    case 9:
      return {
        lines: [
          `Authorization: ${rng.pick(['Bearer', 'Bearer ', 'Bearer  ', `Bearer ${'x'.repeat(9000)}`, `Bearer ${ctx.bearer}x`, 'Bearer %00', 'bearer abc', 'Negotiate abc'])}`,
        ],
        note: 'bad bearer',
        valid: false,
      };
    case 10:
      return {
        lines: [
          `Authorization: Basic ${rng.pick(['', '!!!', Buffer.from(':').toString('base64'), Buffer.from('x').toString('base64'), Buffer.from(`${'a'.repeat(3000)}:b`).toString('base64'), Buffer.from('\u0000:\u0000').toString('base64'), '====', ctx.deviceBasic.slice(6, -2)])}`,
        ],
        note: 'bad basic',
        valid: false,
      };
    default:
      return {
        lines: [`Cookie: ${ctx.cookie}`, `Authorization: Bearer ${ctx.bearer}x`],
        note: 'cookie + bad bearer',
        valid: false,
      };
  }
}

function contentType(rng: Rng): string | null {
  return rng.pick([
    'application/json',
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'text/plain',
    'text/csv',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    '',
    '\u0000',
    null,
  ]);
}

function bodyFor(rng: Rng, op: Operation, notes: string[]): Buffer {
  const roll = rng.int(20);
  if (roll === 0) {
    const size = rng.pick([1_048_576, 4_194_304]);
    notes.push(`body of ${size} bytes`);
    return Buffer.alloc(size, rng.pick([0x20, 0x61, 0x5b]));
  }
  if (roll === 1) {
    notes.push('CSV body');
    return Buffer.from(
      `id,kind,name,parent_id,border,admin_code,valid_to,note\n${Array.from({ length: rng.pick([1, 50]) }, () => [nastyString(rng), rng.pick(['commune', 'x', '']), nastyString(rng), '', rng.pick(['1', '2', '']), '', rng.pick(['2025-13-45', '']), '"unterminated'].join(',')).join('\n')}`,
    );
  }
  if (roll === 2) {
    notes.push('random bytes');
    return rng.bytes(rng.pick([1, 100, 10_000]));
  }
  let value: unknown = op.requestSchema ? exampleOf(op.requestSchema) : looseBody(rng);
  if (roll < 16) {
    const m = mutateJsonValue(rng, value as never);
    value = m.value;
    notes.push(`JSON ${m.note}`);
    if (rng.chance(0.3)) {
      const m2 = mutateJsonValue(rng, value as never);
      value = m2.value;
      notes.push(`JSON ${m2.note}`);
    }
  } else notes.push('schema example');
  let text = JSON.stringify(value) ?? 'null';
  if (rng.chance(0.2)) {
    const t = mutateJsonText(rng, text);
    text = t.text;
    notes.push(t.note);
  }
  let bytes: Buffer = Buffer.from(text);
  if (rng.chance(0.05)) {
    const b = mutateBytes(rng, bytes);
    bytes = b.bytes;
    notes.push(b.note);
  }
  return bytes;
}

/** Percent-encodes the UTF-8 bytes of `text` (lone surrogates become U+FFFD, as a browser would send them). */
function pct(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function httpCase(seed: number, index: number, ops: readonly Operation[], ctx: HttpFuzzContext): HttpCase {
  const rng = new Rng(seed, 'http', index);
  const op = ops[index % ops.length] as Operation;
  const notes: string[] = [];
  let method = op.method;
  if (rng.chance(0.05)) {
    method = rng.pick([
      'GET',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'OPTIONS',
      'TRACE',
      'CONNECT',
      'get',
      'FOO',
      'G\u0000ET',
      'PROPFIND',
    ]);
    notes.push(`method ${JSON.stringify(method)}`);
  }
  const auth = authHeader(rng, ctx);
  notes.push(auth.note);
  let path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    let value = fillParam(rng, name, ctx);
    // The harness's own device, fuzzed device and admin stay usable: no state change names them.
    if (UNSAFE.has(method.toUpperCase()) && ctx.protectedIds.includes(decoded(value))) value = 'not-protected';
    return value;
  });
  // Signing out with the harness's own session would end it for every later case.
  const logsOut = /logout/i.test(path);
  if (logsOut && auth.valid) auth.lines.length = 0;
  if (rng.chance(0.4)) {
    const n = rng.range(1, 4);
    const q = Array.from(
      { length: n },
      () =>
        `${rng.chance(0.9) ? rng.pick(QUERY_KEYS) : pct(nastyString(rng))}=${rng.chance(0.7) ? rng.pick(QUERY_VALUES) : pct(nastyString(rng)).slice(0, 3000)}`,
    );
    path += `?${q.join('&')}`;
    notes.push('query');
  }
  const upgrade = rng.chance(0.08);
  if (upgrade && rng.chance(0.5))
    path = rng.pick([
      '/mqtt',
      '//mqtt',
      '/mqtt?x=1',
      '/mqtt/../mqtt',
      '/MQTT',
      '/mqtt%00',
      '//',
      '//@',
      '///mqtt',
      '/\\mqtt',
      'mqtt',
    ]);
  if (rng.chance(upgrade ? 0.4 : 0.25)) {
    const t = pathTrick(rng, path, ctx.host);
    path = t.path;
    notes.push(t.note);
  }
  const hasBody = UNSAFE.has(method.toUpperCase()) || rng.chance(0.05);
  const body = hasBody ? bodyFor(rng, op, notes) : Buffer.alloc(0);
  const lines = [
    `${method} ${path} HTTP/1.1`,
    `Host: ${rng.chance(0.97) ? ctx.host : rng.pick(['', 'evil.example', '[::1', 'a'.repeat(300)])}`,
    ...auth.lines,
  ];
  if (hasBody) {
    const type = contentType(rng);
    if (type !== null) lines.push(`Content-Type: ${type}`);
    if (type !== 'application/json') notes.push(`content-type ${JSON.stringify(type)}`);
  }
  if (rng.chance(0.15)) {
    lines.push(
      rng.pick([
        'Origin: https://evil.example',
        'Origin: null',
        `Origin: http://${ctx.host}`,
        'Sec-Fetch-Site: cross-site',
        'Sec-Fetch-Site: same-origin',
        'X-Forwarded-For: 1.2.3.4, 5.6.7.8',
        `X-Forwarded-For: ${'9.'.repeat(2000)}`,
        'Accept-Encoding: gzip, br, zstd, *;q=0',
        'Range: bytes=0-0,5-1,-99999999999999999999',
        'If-None-Match: *',
        'Accept: */*;q=1e309',
      ]),
    );
    notes.push('extra header');
  }
  let drip: HttpCase['drip'] = null;
  const bad = rng.int(100);
  if (upgrade) {
    lines.push(
      'Connection: Upgrade',
      `Upgrade: ${rng.pick(['websocket', 'WebSocket', 'h2c', 'x'])}`,
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    );
    if (rng.chance(0.5)) lines.push('Sec-WebSocket-Protocol: mqtt');
    notes.push('Connection: Upgrade');
  } else lines.push('Connection: close');
  if (bad < 4) {
    lines.push(
      rng.pick([
        'NoColonHere',
        'X-A: b\u0000c',
        ' folded: continuation',
        `X-Long: ${'v'.repeat(20_000)}`,
        ': empty-name',
        'Bad Name: x',
        'Content-Length: 5',
        'Transfer-Encoding: chunked',
        'Content-Length: -1',
        'Content-Length: 1e3',
        `Content-Length: ${NASTY_NUMBER_TEXTS[2]}`,
      ]),
    );
    notes.push('bad header line');
  }
  if (hasBody) {
    if (bad >= 4 && bad < 6) {
      drip = { everyMs: 100, forMs: 1500 };
      lines.push(`Content-Length: ${Math.max(64, body.length)}`);
      notes.push('drip body');
    } else if (bad >= 6 && bad < 8) {
      lines.push('Transfer-Encoding: chunked');
      notes.push('chunked body');
      const chunked = Buffer.concat([
        Buffer.from(`${rng.pick([body.length.toString(16), 'zz', 'ffffffffffff', '-1'])}\r\n`),
        body,
        Buffer.from(rng.pick(['\r\n0\r\n\r\n', '\r\n', '0\r\n\r\n'])),
      ]);
      return {
        index,
        operation: `${op.method} ${op.path}`,
        head: Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'),
        body: chunked,
        drip,
        notes,
      };
    } else lines.push(`Content-Length: ${body.length}`);
  }
  return {
    index,
    operation: `${op.method} ${op.path}`,
    head: Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'),
    body,
    drip,
    notes,
  };
}
