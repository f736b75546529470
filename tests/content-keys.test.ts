/**
 * DESIGN §7 whole stack: the real server (createServer: broker, HTTP, SQLite, keyring) and a real agent enrolled
 * with a token. A rotation through the API → the same agent applies the next manifest with the new key; a
 * manifest by the retired key → refused and reported (sync failed, device event, on the server); a hand-made
 * manifest with unknown fields → applied; a changed byte → refused; an expired one → not applied, content kept,
 * `manifest_expired` reported and alerted. And a kiosk enrolled before keys documents (only `manifestKey`) keeps
 * syncing across a rotation.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../agent/config.js';
import { createAgent, type RunningAgent } from '../agent/create-agent.js';
import {
  canonicalJson,
  checkManifest,
  EnrollResponse,
  type Manifest,
  SignedKeysDocument,
  type SignedManifest,
  signingKeysFrom,
  signManifest,
} from '../protocol/index.js';
import { runCli } from '../provisioning/run-cli.js';
import { createApiToken, insertUser } from '../server/auth/users-repo.js';
import { testConfig } from '../server/config.js';
import { loadOrCreateSigningKeys } from '../server/content/signing-keys.js';
import { createServer } from '../server/create-server.js';
import { openDatabase } from '../server/db/open-database.js';
import { registerDevice } from '../server/registry/devices-repo.js';
import { startTestServer, type TestServer } from '../server/testing/test-server.js';
import { fixedHealth, silent } from './helpers/agent-fixture.js';
import { waitFor } from './helpers/agent-test-net.js';
import { cleanupsRunBy } from './helpers/cleanups.js';
import { ContentApiStandIn } from './helpers/content-api-stand-in.js';
import { tokenPeople } from './helpers/token-people.js';

const cleanups = cleanupsRunBy(afterEach);
const people = (server: { db: TestServer['db']; httpUrl: string }) => tokenPeople(server, 'Nội dung');

async function startAgent(config: Record<string, unknown>, dir: string, env: Record<string, string> = {}): Promise<RunningAgent> {
  const agent = await createAgent(
    parseAgentConfig({ ...config, dataDir: join(dir, 'data'), kioskPort: 0 }, { AGENT_UI_DIR: join(dir, 'no-ui'), ...env }, null),
    { log: silent, healthSource: fixedHealth(), syncRetryBaseMs: 60_000 },
  );
  return agent;
}

const rows = (server: { db: TestServer['db'] }, sql: string, ...args: unknown[]) =>
  server.db.prepare(sql).all(...args) as Array<Record<string, unknown>>;

describe('manifest keys across the whole stack', () => {
  it('rotation, a retired key, unknown fields, a changed byte and an expired manifest', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const { admin, publish } = people(server);
    const dir = await mkdtemp(join(tmpdir(), 'content-keys-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));

    // Enrolled with a token: the response carries the root to pin beside the current signing key.
    const created = (await (await admin('POST', '/api/v1/enrollment-tokens', { siteId: 'gl-c-iao' })).json()) as {
      tokens: Array<{ token: string }>;
    };
    const facts = { serial: 'SN-KEYS-1', model: 'test', mac: '', hostname: 'kiosk' };
    const res = await fetch(`${server.httpUrl}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: created.tokens[0]?.token, facts }),
    });
    expect(res.status).toBe(201);
    const enrollment = EnrollResponse.parse(await res.json());
    expect(enrollment.rootKey).toContain('BEGIN PUBLIC KEY');
    expect(enrollment.rootKey).not.toBe(enrollment.manifestKey);
    const config = { ...enrollment, mqttUrl: server.mqttUrl, apiUrl: server.httpUrl };

    await publish();
    let agent = await startAgent(config, dir);
    cleanups.push(() => agent.close());
    await waitFor(() => agent.online(), 'agent online');
    expect(await agent.sync('command')).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 1 });
    const firstKeyId = agent.current()?.signed.keyId;

    // Rotate through the API (admin only, audited).
    const before = (await (await admin('GET', '/api/v1/keys')).json()) as {
      document: SignedKeysDocument;
      root: { online: boolean };
    };
    expect(before.root.online).toBe(true);
    const rotated = await admin('POST', '/api/v1/keys/rotate');
    expect(rotated.status).toBe(200);
    const after = (await rotated.json()) as { version: number; signingKeyId: string; document: SignedKeysDocument };
    expect(after.version).toBe(before.document.document.version + 1);
    expect(after.signingKeyId).not.toBe(firstKeyId);
    expect(after.document.document.keys.find((k) => k.keyId === firstKeyId)?.status).toBe('retired');
    expect(rows(server, `SELECT action FROM audit WHERE action LIKE 'keys.%'`).map((r) => r.action)).toContain('keys.publish');
    // A new enrollment is handed the new signing key.
    const { enrollmentKeys } = await import('../server/content/signing-keys.js');
    expect(enrollmentKeys(server.db)?.manifestKey).toBe(
      after.document.document.keys.find((k) => k.keyId === after.signingKeyId)?.publicKey,
    );

    // The same agent applies the next manifest, signed by the new key.
    await publish();
    expect(await agent.sync('command')).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: 2 });
    expect(agent.current()?.signed.keyId).toBe(after.signingKeyId);

    // Someone on the path with the retired (leaked) key and the old keys document: refused and reported.
    const legacyKey = signingKeysFrom(createPrivateKey(await readFile(join(server.dataDir, 'manifest-signing-key.pem'), 'utf8')));
    expect(legacyKey.keyId).toBe(firstKeyId);
    const v1 = SignedKeysDocument.parse(
      JSON.parse(String(rows(server, 'SELECT signed FROM content_keys_documents WHERE version = 1')[0]?.signed)),
    );
    const now = Date.now();
    const manifest = (seq: number, extra: Record<string, unknown> = {}, expiresAt = now + 86_400_000): Manifest => ({
      v: 1,
      deviceId: enrollment.deviceId,
      seq,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(expiresAt).toISOString(),
      items: [
        {
          id: 'rogue',
          version: 1,
          kind: 'bulletin',
          topics: [],
          validFrom: null,
          validTo: null,
          translations: { vi: { title: 'Giả', summary: '', body: 'x' } },
          ...extra,
        },
      ],
    });
    const onPath = await new ContentApiStandIn({ deviceId: enrollment.deviceId, secret: enrollment.secret }).start();
    cleanups.push(() => onPath.close());
    await agent.close();
    agent = await startAgent(config, dir, { AGENT_API_URL: onPath.url });
    await waitFor(() => agent.online(), 'agent online again');
    expect(agent.current()?.signed.manifest.seq).toBe(2);
    onPath.setRaw(signManifest(manifest(9), legacyKey, v1));
    expect(await agent.sync('command')).toMatchObject({ state: 'rejected', reason: 'key_retired' });
    expect(agent.current()?.signed.manifest.seq).toBe(2);
    await waitFor(
      () =>
        rows(
          server,
          `SELECT 1 FROM device_sync WHERE device_id = ? AND state = 'failed' AND error LIKE '%key_retired%'`,
          enrollment.deviceId,
        ).length === 1,
      'failed sync reported to the server',
    );
    await waitFor(
      () =>
        rows(
          server,
          `SELECT 1 FROM device_events WHERE device_id = ? AND type = 'manifest_rejected' AND message LIKE 'key_retired%'`,
          enrollment.deviceId,
        ).length > 0,
      'device event stored',
    );

    // A hand-made manifest by the current key with a field unknown at the top and in an item: applied.
    const current = signingKeysFrom(
      createPrivateKey(
        await readFile(join(server.dataDir, 'keys', `signing-${after.signingKeyId.replace(/[^0-9a-f]/g, '')}.pem`), 'utf8'),
      ),
    );
    const extended = signManifest({ ...manifest(3, { priority: 2 }), audience: 'border-residents' }, current, after.document);
    // A changed byte (here, in the item's title) is refused.
    const text = JSON.stringify(extended);
    const changed = JSON.parse(text.replace('"Giả"', '"Gia"')) as SignedManifest;
    expect(canonicalJson(changed.manifest)).not.toBe(canonicalJson(extended.manifest));
    onPath.setRaw(changed);
    expect(await agent.sync('command')).toMatchObject({ state: 'rejected', reason: 'bad_signature' });
    onPath.setRaw(JSON.parse(text));
    expect(await agent.sync('command')).toMatchObject({ state: 'applied', seq: 3 });
    expect(agent.current()?.signed.manifest.audience).toBe('border-residents');

    // Expired: never applied as the new target; the content on screen stays; reported and alerted.
    onPath.setRaw(signManifest(manifest(4, {}, now - 1000), current, after.document));
    expect(await agent.sync('command')).toMatchObject({ state: 'rejected', reason: 'manifest_expired' });
    expect(agent.current()?.signed.manifest.seq).toBe(3);
    await waitFor(
      () =>
        rows(server, `SELECT 1 FROM device_events WHERE device_id = ? AND type = 'manifest_expired'`, enrollment.deviceId)
          .length > 0,
      'manifest_expired event stored',
    );
    await waitFor(async () => {
      const alerts = (await (await admin('GET', '/api/v1/alerts?type=manifest_expired')).json()) as {
        alerts?: Array<{ type: string; deviceId: string }>;
        items?: Array<{ type: string; deviceId: string }>;
      };
      return (alerts.alerts ?? alerts.items ?? []).some((a) => a.deviceId === enrollment.deviceId);
    }, 'manifest_expired alert on the dashboard');
    // After a restart the kiosk still shows the manifest with unknown fields (verified again from disk).
    await agent.close();
    agent = await startAgent(config, dir, { AGENT_API_URL: onPath.url });
    expect(agent.current()?.signed.manifest.seq).toBe(3);
  }, 120_000);

  it('a kiosk enrolled before keys documents (only manifestKey) keeps syncing after a rotation', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'content-keys-legacy-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    // The installation as it was: the one signing key, a device enrolled with it pinned.
    const legacyKey = await loadOrCreateSigningKeys(dataDir);
    const db = openDatabase(join(dataDir, 'fleet.db'));
    const secret = 'secret-of-legacy-kiosk-0123456789';
    registerDevice(db, { id: 'kiosk-legacy', secret, siteId: null, status: 'active' });
    db.close();
    const server = await createServer(testConfig({ DATA_DIR: dataDir, ADMIN_PASSWORD: 'admin-password-for-tests' } as never));
    cleanups.push(() => server.close());
    const { admin, publish } = people(server);
    const status = (await (await admin('GET', '/api/v1/keys')).json()) as { root: { keyId: string } };
    expect(status.root.keyId).toBe(legacyKey.keyId);

    const dir = await mkdtemp(join(tmpdir(), 'content-keys-agent-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const agent = await startAgent(
      {
        deviceId: 'kiosk-legacy',
        secret,
        siteId: 'gl-c-iao',
        mqttUrl: server.mqttUrl,
        apiUrl: server.httpUrl,
        manifestKey: legacyKey.publicKeyPem,
      },
      dir,
    );
    cleanups.push(() => agent.close());
    await publish();
    const first = await agent.sync('command');
    // The publish's notice may have had the agent's own sync apply it first (then this one is `unchanged`).
    expect(first).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: expect.any(Number) });
    expect(agent.current()?.signed.manifest.seq).toBe((first as { seq: number }).seq);
    const seq = (first as { seq: number }).seq;
    expect((await admin('POST', '/api/v1/keys/rotate')).status).toBe(200);
    await publish();
    expect(await agent.sync('command')).toMatchObject({ state: expect.stringMatching(/applied|unchanged/), seq: seq + 1 });
    expect(agent.current()?.signed.keyId).not.toBe(legacyKey.keyId);
  }, 120_000);

  it('offline root through the CLI: rotate refused, prepare → sign elsewhere → publish; a forged document refused', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.stop());
    const user = insertUser(server.db, { username: 'keys-admin', role: 'admin', passwordHash: 'unused: token sign-in' });
    const token = createApiToken(server.db, { userId: user.id, name: 'cli', ttlMs: null }).token;
    const out: string[] = [];
    const err: string[] = [];
    const cli = (...argv: string[]) =>
      runCli(argv, {
        io: { out: (t) => out.push(t), err: (t) => err.push(t) },
        env: { KIOSK_SERVER: server.httpUrl, KIOSK_API_TOKEN: token },
        readPassword: async () => '',
      });
    const dir = await mkdtemp(join(tmpdir(), 'content-keys-cli-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const rootRes = await fetch(`${server.httpUrl}/api/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
    const rootKey = ((await rootRes.json()) as { root: { publicKey: string } }).root.publicKey;

    // Take the root off the server (the department keeps it on a USB key in a safe).
    const offline = join(dir, 'root-key.pem');
    await rename(join(server.dataDir, 'keys', 'root-key.pem'), offline);
    expect(await cli('keys', 'status')).toBe(0);
    expect(out.join('\n')).toContain('offline');
    expect(await cli('keys', 'rotate')).toBe(4);
    expect(err.join('\n')).toContain('root_key_offline');

    expect(await cli('keys', 'prepare', '--out', join(dir, 'next.json'))).toBe(0);
    // A document signed by some other key is refused by the server.
    const other = join(dir, 'other.pem');
    const { generateKeyPairSync } = await import('node:crypto');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(other, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    expect(
      await cli('keys', 'sign', '--root-key', other, '--in', join(dir, 'next.json'), '--out', join(dir, 'forged.json')),
    ).toBe(0);
    expect(await cli('keys', 'publish', '--in', join(dir, 'forged.json'))).toBe(4);
    expect(err.join('\n')).toContain('keys_other_root');

    expect(
      await cli('keys', 'sign', '--root-key', offline, '--in', join(dir, 'next.json'), '--out', join(dir, 'signed.json')),
    ).toBe(0);
    expect(await cli('keys', 'publish', '--in', join(dir, 'signed.json'))).toBe(0);
    expect(out.join('\n')).toContain('keys document 2');

    // The manifest a device gets now is signed by the new key, and a kiosk pinning the root accepts it.
    const device = (await import('../server/testing/test-server.js')).addDevice(server, 'kiosk-offline-root');
    const m = await fetch(`${server.httpUrl}/api/v1/devices/${device.id}/manifest`, {
      headers: { authorization: `Basic ${Buffer.from(`${device.id}:${device.secret}`).toString('base64')}` },
    });
    const body = (await m.json()) as SignedManifest;
    expect(body.keys?.document.version).toBe(2);
    const trust = { rootKey, document: null, enrolledKey: null };
    expect(checkManifest(body, { trust, deviceId: device.id, appliedSeq: 0 })).toMatchObject({ ok: true });
  }, 60_000);
});
