/**
 * `agent/kiosk-agent.mjs` of a release: before anything native is loaded, checks that this Node and this CPU are the
 * ones the release was built for (release.json beside it), and refuses with one sentence otherwise; then starts the
 * bundled agent. Built by tools/release/build.ts; `./agent.mjs` is the agent bundle next to it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentTarget, RELEASE_MANIFEST_FILE, SignedRelease, targetMismatch } from '../../protocol/release.js';

const slot = join(import.meta.dirname, '..');
let problem: string | null;
try {
  const signed = SignedRelease.parse(JSON.parse(readFileSync(join(slot, RELEASE_MANIFEST_FILE), 'utf8')));
  problem = targetMismatch(signed.release, currentTarget())?.message ?? null;
} catch (err) {
  problem = `cannot read ${join(slot, RELEASE_MANIFEST_FILE)}: ${(err as Error).message}`;
}
if (problem) {
  console.error(`kiosk-agent: ${problem}`);
  process.exit(3);
}
// A variable, so the bundler leaves the agent as its own file.
const agent = './agent.mjs';
await import(agent);
