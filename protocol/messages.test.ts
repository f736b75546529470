import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { AgentConfigFile, EnrollRequest, EnrollResponse } from './http.js';
import { LIMITS } from './limits.js';
import { SignedManifest } from './manifest.js';
import {
  CommandMessage,
  CommandRequest,
  CommandResultMessage,
  EventMessage,
  HealthMessage,
  HealthSample,
  ManifestNotice,
  StatsMessage,
  StatusMessage,
  SyncMessage,
} from './messages.js';

const sample = {
  seq: 7,
  ts: 1_763_000_000_000,
  cpuLoad: 12.5,
  memUsed: 40,
  diskUsed: 63.2,
  diskFree: 12_000_000_000,
  tempC: null,
  uptimeS: 3600,
  contentSeq: 3,
  queueDepth: 0,
};

const pem = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n';

/** A valid example of every message, and the fields a test may break. */
const valid: Array<[string, z.ZodType, Record<string, unknown>]> = [
  ['status', StatusMessage, { online: true, ts: 1, agentVersion: '0.1.0', bootId: 'b1' }],
  ['health', HealthMessage, { samples: [sample] }],
  ['sync', SyncMessage, { manifestSeq: 4, state: 'failed', bytes: 100, missing: 2, error: 'disk full' }],
  ['stats', StatsMessage, { days: [{ day: '2026-11-20', itemId: 'item-1', lang: 'jra', views: 3, seconds: 41.5 }] }],
  ['events', EventMessage, { type: 'clock_skew', severity: 'warning', message: 'skew 9 min', ts: 5 }],
  ['commands', CommandMessage, { id: 'c1', type: 'set_config', params: { healthIntervalS: 30 }, issuedAt: 1, expiresAt: 2 }],
  ['command result', CommandResultMessage, { id: 'c1', state: 'succeeded', detail: 'ok' }],
  ['manifest notice', ManifestNotice, { seq: 9 }],
  [
    'signed manifest',
    SignedManifest,
    {
      manifest: {
        v: 1,
        deviceId: 'k-1',
        seq: 1,
        issuedAt: '2026-11-23T00:00:00.000Z',
        expiresAt: '2026-12-23T00:00:00.000Z',
        items: [
          {
            id: 'i1',
            version: 1,
            kind: 'bulletin',
            topics: ['border-law'],
            validFrom: null,
            validTo: null,
            translations: { vi: { title: 'Chủ quyền biên giới', summary: 'Tóm tắt', body: 'Nội dung' } },
          },
        ],
      },
      keyId: 'ed25519:0123456789abcdef',
      signature: 'AAAA',
    },
  ],
  ['enroll request', EnrollRequest, { token: 'abcdefgh12345678', facts: { serial: 'S1', model: 'M', mac: 'aa', hostname: 'h' } }],
  [
    'enroll response',
    EnrollResponse,
    {
      deviceId: 'k-1',
      secret: 'x'.repeat(32),
      siteId: 'gl-c-iadom',
      mqttUrl: 'mqtt://127.0.0.1:1883',
      apiUrl: 'http://127.0.0.1:8080',
      manifestKey: pem,
    },
  ],
];

describe('message schemas', () => {
  it.each(valid)('%s accepts a valid example', (_name, schema, example) => {
    expect(schema.safeParse(example).success).toBe(true);
  });

  it.each(valid)('%s rejects each missing required field', (_name, schema, example) => {
    for (const key of Object.keys(example)) {
      const broken = { ...example };
      delete broken[key];
      const result = schema.safeParse(broken);
      const optional = key === 'error' || key === 'detail';
      expect(result.success, `without ${key}`).toBe(optional);
    }
  });

  it.each(valid)('%s rejects a wrong type in each field', (_name, schema, example) => {
    for (const key of Object.keys(example)) {
      const wrong = typeof example[key] === 'string' ? 42 : 'not-the-right-type';
      expect(schema.safeParse({ ...example, [key]: wrong }).success, `${key} as ${typeof wrong}`).toBe(false);
    }
  });

  it('rejects non-objects', () => {
    for (const [, schema] of valid) {
      for (const bad of [null, 42, 'text', [], true]) expect(schema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('health samples', () => {
  it.each([
    ['NaN', { cpuLoad: Number.NaN }],
    ['Infinity', { diskFree: Number.POSITIVE_INFINITY }],
    ['-Infinity', { tempC: Number.NEGATIVE_INFINITY }],
    ['negative seq', { seq: -1 }],
    ['fractional seq', { seq: 1.5 }],
    ['seq beyond safe integers', { seq: 2 ** 60 }],
    ['percent above 100', { diskUsed: 101 }],
    ['string number', { seq: '7' }],
  ])('rejects %s', (_name, patch) => {
    expect(HealthSample.safeParse({ ...sample, ...patch }).success).toBe(false);
  });

  it('accepts a temperature when the hardware has one', () => {
    expect(HealthSample.parse({ ...sample, tempC: 47.5 }).tempC).toBe(47.5);
  });

  it('bounds the batch size', () => {
    const many = Array.from({ length: LIMITS.maxHealthSamples }, (_, i) => ({ ...sample, seq: i }));
    expect(HealthMessage.safeParse({ samples: many }).success).toBe(true);
    expect(HealthMessage.safeParse({ samples: [...many, sample] }).success).toBe(false);
    expect(HealthMessage.safeParse({ samples: [] }).success).toBe(false);
  });
});

describe('bounds on strings and arrays', () => {
  it('rejects oversized strings', () => {
    const big = 'x'.repeat(LIMITS.longText + 1);
    expect(EventMessage.safeParse({ type: 't', severity: 'info', message: big, ts: 1 }).success).toBe(false);
    expect(StatusMessage.safeParse({ online: true, ts: 1, agentVersion: 'v'.repeat(201), bootId: 'b' }).success).toBe(false);
    expect(SyncMessage.safeParse({ manifestSeq: 1, state: 'failed', bytes: 0, missing: 0, error: big }).success).toBe(false);
  });

  it('rejects oversized stats arrays', () => {
    const day = { day: '2026-11-20', itemId: 'i', lang: 'vi', views: 1, seconds: 1 };
    const days = Array.from({ length: LIMITS.maxStatsDays + 1 }, () => day);
    expect(StatsMessage.safeParse({ days }).success).toBe(false);
  });

  it('rejects ids that could not be topic segments', () => {
    for (const id of ['', '+', '#', 'a/b', 'x'.repeat(LIMITS.maxIdLength + 1)]) {
      expect(CommandResultMessage.safeParse({ id, state: 'acked' }).success, JSON.stringify(id)).toBe(false);
    }
  });

  it('rejects a malformed day and a bad language tag', () => {
    const day = { day: '2026-11-20', itemId: 'i', lang: 'vi', views: 1, seconds: 1 };
    expect(StatsMessage.safeParse({ days: [{ ...day, day: '20/11/2026' }] }).success).toBe(false);
    expect(StatsMessage.safeParse({ days: [{ ...day, lang: 'not a tag' }] }).success).toBe(false);
    expect(StatsMessage.safeParse({ days: [{ ...day, lang: 'zh-Hant-TW' }] }).success).toBe(true);
  });
});

describe('commands', () => {
  it('accepts every command type with its params', () => {
    for (const type of ['sync_now', 'reboot', 'restart_agent', 'screenshot']) {
      expect(CommandRequest.parse({ type })).toEqual({ type, params: {} });
    }
    expect(
      CommandRequest.parse({ type: 'set_config', params: { downloadWindow: '22:00-05:00', bandwidthLimit: null } }).type,
    ).toBe('set_config');
  });

  it('rejects unknown types and bad settings', () => {
    expect(CommandRequest.safeParse({ type: 'format_disk' }).success).toBe(false);
    expect(CommandRequest.safeParse({ type: 'set_config', params: { healthIntervalS: 0 } }).success).toBe(false);
    expect(CommandRequest.safeParse({ type: 'set_config', params: { downloadWindow: '25:00-01:00' } }).success).toBe(false);
  });
});

describe('agent config file', () => {
  it('fills local defaults', () => {
    const config = AgentConfigFile.parse(valid[10]?.[2]);
    expect(config.dataDir).toBe('./agent-data');
    expect(config.kioskPort).toBe(8090);
  });
});

describe('local kiosk API', () => {
  it('accepts a waiting-for-pairing state and rejects a view without an item', async () => {
    const { LocalManifest, LocalViews } = await import('./local.js');
    const waiting = {
      deviceId: null,
      siteId: null,
      online: false,
      pairing: { code: 'K7Q2M9', expiresAt: '2026-11-23T07:00:00Z' },
      seq: 0,
      appliedAt: null,
      items: [],
    };
    expect(LocalManifest.safeParse(waiting).success).toBe(true);
    expect(LocalViews.safeParse({ views: [{ itemId: 'i1', lang: 'km', seconds: 12 }] }).success).toBe(true);
    expect(LocalViews.safeParse({ views: [{ lang: 'km', seconds: 12 }] }).success).toBe(false);
    expect(LocalViews.safeParse({ views: [{ itemId: 'i1', lang: 'km', seconds: -1 }] }).success).toBe(false);
  });
});
