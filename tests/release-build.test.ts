/**
 * `npm run release` (DESIGN §10): a real release built once per source tree (cached in the temp folder), its signed
 * manifest checked through the trust chain, and every refusal the kiosk must make with a sentence: a tampered or
 * unsigned release, a damaged copy of install.sh, another CPU, another Node.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, signCanonical } from '../protocol/ed25519.js';
import { bootstrapTrust, checkRelease, currentTarget, SignedRelease, targetMismatch } from '../protocol/release.js';
import { generateSigningKeys } from '../protocol/signature.js';
import { type CachedRelease, cachedRelease, throwawaySigner } from '../tools/release/cached-release.js';
import { AGENT_NODE_FLAGS, AGENT_RUNTIME_ENV } from '../tools/release/shell.js';
import { slotProblem } from '../tools/release/slot-files.js';

const run = promisify(execFile);
let rel: CachedRelease;
let raw: Record<string, unknown>;
const scratch: string[] = [];

beforeAll(async () => {
  rel = await cachedRelease();
  raw = JSON.parse(await readFile(join(rel.dir, 'release.json'), 'utf8'));
}, 300_000);
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Runs a command; resolves with its exit code and output instead of throwing. */
async function outcome(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await run(cmd, args, { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run release', () => {
  it('builds a self-contained slot: built JavaScript, the native binding, the page, the units and the Node of the build, signed', async () => {
    const check = checkRelease(raw, { trust: bootstrapTrust(SignedRelease.parse(raw)), target: currentTarget() });
    expect(check.ok, check.ok ? '' : check.message).toBe(true);
    const release = rel.signed.release;
    expect(release.arch).toBe(process.arch);
    expect(release.runtime).toEqual({ name: 'node', version: process.versions.node, modules: process.versions.modules });
    expect(await slotProblem(rel.dir, release)).toBeNull();
    const paths = release.files.map((f) => f.path);
    for (const p of [
      'runtime/node',
      'agent/agent.mjs',
      'agent/kiosk-agent.mjs',
      'bin/kiosk-agent',
      'bin/kiosk-provision',
      'installer/install.mjs',
      'provisioning/kiosk-provision.mjs',
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'kiosk-ui/dist/index.html',
      'kiosk-ui/dist/fonts/noto-sans-khmer-khmer-400.woff2',
      'deploy/kiosk-agent.service',
      'deploy/kiosk-launcher.sh',
    ]) {
      expect(paths).toContain(p);
    }
    for (const [path, mode] of [
      ['runtime/node', 0o755],
      ['bin/kiosk-agent', 0o755],
      ['kiosk-ui/dist/index.html', 0o644],
    ] as const) {
      expect(release.files.find((f) => f.path === path)?.mode).toBe(mode);
    }
    // No tsx and no TypeScript at run time; the bundled agent reports the release's version.
    const agent = await readFile(join(rel.dir, 'agent', 'agent.mjs'), 'utf8');
    expect(agent).not.toMatch(/from ["']tsx|["']tsx\/esm/);
    expect(paths.some((p) => p.endsWith('.ts'))).toBe(false);
    expect(agent).toMatch(new RegExp(`AGENT_VERSION\\s*=\\s*${JSON.stringify(rel.version).replaceAll('.', '\\.')}`));
    // Only the modules the binding needs, not the build's node_modules.
    expect(new Set(paths.filter((p) => p.startsWith('node_modules/')).map((p) => p.split('/')[1]))).toEqual(
      new Set(['better-sqlite3', 'bindings', 'file-uri-to-path']),
    );
    const unit = await readFile(join(rel.dir, 'deploy', 'kiosk-agent.service'), 'utf8');
    // Started through the boot guard outside the slots (it rolls a failed update back), not the slot directly.
    expect(unit).toMatch(/^ExecStart=\/opt\/kiosk\/bin\/kiosk-boot --config \/etc\/kiosk\/agent-config\.json$/m);
  });

  it('refuses a tampered, unsigned, unknown-key or other-root release, each with its reason', () => {
    const trust = bootstrapTrust(SignedRelease.parse(raw));
    const target = currentTarget();
    const release = raw.release as { files: Array<{ sha256: string }> };
    const tampered = {
      ...raw,
      release: { ...release, files: [{ ...release.files[0], sha256: 'f'.repeat(64) }, ...release.files.slice(1)] },
    };
    expect(checkRelease(tampered, { trust, target })).toMatchObject({ ok: false, reason: 'bad_signature' });
    const { signature: _s, ...unsigned } = raw;
    expect(checkRelease(unsigned, { trust, target })).toMatchObject({ ok: false, reason: 'malformed' });
    const stranger = generateSigningKeys();
    const byStranger = { ...raw, keyId: stranger.keyId, signature: signCanonical(raw.release, stranger.privateKey) };
    expect(checkRelease(byStranger, { trust, target })).toMatchObject({ ok: false, reason: 'key_unknown' });
    // An enrolled kiosk pins its server's root: a release under another root is refused even though it carries one.
    const otherRoot = JSON.parse(throwawaySigner()) as { rootKey: string };
    const enrolled = { rootKey: otherRoot.rootKey, document: null, enrolledKey: null };
    const refused = checkRelease(raw, { trust: enrolled, target });
    expect(refused).toMatchObject({ ok: false, reason: 'keys_rejected' });
    expect(refused.ok ? '' : refused.message).toContain(`pins root ${keyIdOf(otherRoot.rootKey)}`);
  });

  it('the installer refuses a slot whose file changed or that holds an unlisted file, before installing anything', async () => {
    const copy = join(await temp('release-tamper-'), 'slot');
    await cp(rel.dir, copy, { recursive: true });
    const page = join(copy, 'kiosk-ui', 'dist', 'index.html');
    await chmod(page, 0o644);
    // Same size, one byte changed: only the sha256 can tell.
    const text = await readFile(page, 'utf8');
    await writeFile(page, `${text.slice(0, -2)}X${text.slice(-1)}`);
    const prefix = await temp('release-tamper-root-');
    const node = join(copy, 'runtime', 'node');
    const installer = join(copy, 'installer', 'install.mjs');
    const changed = await outcome(node, [installer, '--from', copy, '--prefix', prefix]);
    expect(changed.code).toBe(5);
    expect(changed.stderr).toContain('kiosk-ui/dist/index.html does not match its sha256');
    await cp(join(rel.dir, 'kiosk-ui', 'dist', 'index.html'), page);
    await writeFile(join(copy, 'agent', 'extra.mjs'), 'process.exit(0)');
    const extra = await outcome(node, [installer, '--from', copy, '--prefix', prefix]);
    expect(extra.code).toBe(5);
    expect(extra.stderr).toContain('agent/extra.mjs is in the release folder but not in its signed manifest');
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(prefix)).toEqual([]);
  }, 60_000);

  it('install.sh refuses another CPU and a damaged copy with a sentence, before running anything of the payload', async () => {
    const dir = await temp('release-arch-');
    const fakeBin = join(dir, 'bin');
    await mkdir(fakeBin);
    const other = process.arch === 'arm64' ? 'x86_64' : 'aarch64';
    await writeFile(join(fakeBin, 'uname'), `#!/bin/sh\necho ${other}\n`, { mode: 0o755 });
    const wrongCpu = await outcome('sh', [rel.installer, '--prefix', join(dir, 'root')], {
      ...process.env,
      PATH: `${fakeBin}:${process.env.PATH}`,
    });
    expect(wrongCpu.code).toBe(3);
    expect(wrongCpu.stderr).toMatch(
      new RegExp(`is built for ${process.arch}, this machine is (x64|arm64); build the release on`),
    );
    const cut = join(dir, 'cut.install.sh');
    await cp(rel.installer, cut);
    await truncate(cut, 20_000_000);
    const damaged = await outcome('sh', [cut, '--prefix', join(dir, 'root')]);
    expect(damaged.code).toBe(4);
    expect(damaged.stderr).toContain('it was cut or changed while copied; copy it again');
  }, 60_000);

  it('keeps the agent lean (docs/performance.md "Agent RSS"): ASCII-only bundles, shared code once, V8 flags', async () => {
    const dir = join(rel.dir, 'agent');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.mjs'));
    const text = new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(dir, f), 'latin1')] as const)));
    // One non-ASCII byte (a comment's curly quote) and V8 holds the whole source as UTF-16, twice its size.
    for (const [f, t] of text)
      expect(
        [...t].some((c) => c.charCodeAt(0) > 0x7f),
        `${f} is ASCII only`,
      ).toBe(false);
    // zod and the protocol in one chunk the check and the agent share, not once in each.
    expect([...text].filter(([, t]) => t.includes('ZodError')).map(([f]) => f)).toEqual([
      expect.stringMatching(/^shared-.*\.mjs$/),
    ]);
    // undici's Agent alone, not its mocks, fetch and WebSocket.
    expect(text.get('agent.mjs')).not.toContain('MockAgent');
    const wrapper = await readFile(join(rel.dir, 'bin', 'kiosk-agent'), 'utf8');
    expect(wrapper).toContain(`exec "$slot/runtime/node" ${AGENT_NODE_FLAGS.join(' ')} "$slot/agent/kiosk-agent.mjs" "$@"`);
    for (const [k, v] of Object.entries(AGENT_RUNTIME_ENV)) expect(wrapper).toContain(`export ${k}=${v}\n`);
  });

  it('the agent refuses to start on a Node whose native ABI is not the release runtime', async () => {
    const slot = await temp('release-abi-');
    await mkdir(join(slot, 'agent'));
    // The check with the chunk it shares with the agent (tools/release/build.ts agentBundle).
    await cp(join(rel.dir, 'agent'), join(slot, 'agent'), { recursive: true });
    const envelope = structuredClone(raw) as { release: { runtime: { modules: string } } };
    envelope.release.runtime.modules = '1';
    await writeFile(join(slot, 'release.json'), JSON.stringify(envelope));
    const started = await outcome(process.execPath, [join(slot, 'agent', 'kiosk-agent.mjs'), '--config', '/nonexistent']);
    expect(started.code).toBe(3);
    expect(started.stderr).toContain(
      `needs Node ${process.versions.node} (native ABI 1), this Node has ABI ${process.versions.modules}`,
    );
    const mismatch = targetMismatch(rel.signed.release, { platform: 'linux', arch: 'arm64', modules: null });
    if (process.arch !== 'arm64') expect(mismatch?.reason).toBe('wrong_arch');
  });
});
