/**
 * Interface labels for the languages nobody on the team writes (issue 16): the department enters them
 * (PUT /api/v1/ui-labels/:lang, checked against kiosk-ui's keys and placeholders, audited), they travel in the
 * device's signed manifest (`uiLabels`; the signature covers them), the agent's local API hands them to the page
 * (GET /local/ui-labels), and kiosk-ui shows each missing one in Vietnamese; Khmer and Lao are built in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalApp } from '../agent/local-server.js';
import { labelsFor, labelsLang, setEnteredLabels } from '../kiosk-ui/src/i18n.js';
import { SignedManifest } from '../protocol/index.js';
import { verifyManifestSignature } from '../protocol/signature.js';
import { UI_LABEL_KEYS } from '../protocol/ui-labels.js';
import { listAudit } from '../server/auth/audit.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { addDevice, type HttpSession, type TestServer } from '../server/testing/test-server.js';
import { startServerAsAdmin } from './helpers/admin-server.js';

let server: TestServer;
let admin: HttpSession;

beforeAll(async () => {
  ({ server, admin } = await startServerAsAdmin());
});

afterAll(async () => {
  await server?.stop();
});

describe('PUT /api/v1/ui-labels/:lang', () => {
  it('refuses keys kiosk-ui does not have, wrong placeholders, and built-in languages, with the reason', async () => {
    const unknown = await admin.json('PUT', '/api/v1/ui-labels/jra', { labels: { nosuchKey: 'x' } });
    expect(unknown.status).toBe(400);
    const placeholder = await admin.json('PUT', '/api/v1/ui-labels/jra', { labels: { page: 'Hơdôm {n}' } });
    expect(placeholder.status).toBe(400);
    expect(JSON.stringify(placeholder.body)).toContain('page must contain {total}');
    const builtIn = await admin.json<{ error: { code: string } }>('PUT', '/api/v1/ui-labels/km', { labels: { home: 'x' } });
    expect(builtIn.status).toBe(400);
    expect(builtIn.body.error.code).toBe('built_in_labels');
  });

  it('stores them, audited, and sends them to the kiosk in its signed manifest', async () => {
    const device = addDevice(server, 'kiosk-labels-1');
    const put = await admin.json<{ labels: Record<string, string>; missing: string[] }>('PUT', '/api/v1/ui-labels/jra', {
      labels: { chooseLanguage: 'Ruah hiăp', page: 'Hơdôm {n} / {total}' },
    });
    expect(put.status).toBe(200);
    expect(put.body.missing).toHaveLength(UI_LABEL_KEYS.length - 2);
    expect(listAudit(server.db, { limit: 5, action: 'ui_labels.update' })[0]?.target).toBe('jra');
    const got = await admin.json<{ labels: Record<string, string> }>('GET', '/api/v1/ui-labels/jra');
    expect(got.body.labels.chooseLanguage).toBe('Ruah hiăp');

    const res = await fetch(`${server.httpUrl}/api/v1/devices/${device.id}/manifest`, {
      headers: { authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    const signed = SignedManifest.parse(await res.json());
    expect(signed.manifest.uiLabels?.jra?.chooseLanguage).toBe('Ruah hiăp');
    const keys = await loadOrCreateSigningKeys(server.dataDir);
    expect(verifyManifestSignature(signed, keys.publicKey)).toBe(true);

    // The agent's local API hands them to the page.
    const dir = mkdtempSync(join(tmpdir(), 'ui-labels-'));
    try {
      const app = createLocalApp(
        {
          deviceId: () => device.id,
          siteId: () => null,
          online: () => true,
          pairing: () => null,
          current: () => ({ signed, appliedAt: new Date().toISOString() }),
          clock: Date.now,
          store: {} as never,
          recordViews: () => {},
        },
        join(dir, 'no-ui'),
      );
      const local = await app.request('/local/ui-labels');
      expect(await local.json()).toEqual({ labels: { jra: { chooseLanguage: 'Ruah hiăp', page: 'Hơdôm {n} / {total}' } } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kiosk-ui labels', () => {
  it('an entered Jrai label shows, a missing one shows in Vietnamese; Khmer and Lao are built in', () => {
    setEnteredLabels({ jra: { chooseLanguage: 'Ruah hiăp', page: 'Hơdôm {n} / {total}' } });
    expect(labelsFor('jra').chooseLanguage).toBe('Ruah hiăp');
    expect(labelsFor('jra').page(2, 5)).toBe('Hơdôm 2 / 5');
    expect(labelsFor('jra').home).toBe(labelsFor('vi').home);
    expect(labelsLang('jra')).toBe('jra');
    expect(labelsLang('bdq')).toBe('vi');
    expect(labelsFor('km').chooseLanguage).toBe('ជ្រើសរើសភាសា');
    expect(labelsFor('lo').chooseLanguage).toBe('ເລືອກພາສາ');
  });
});
