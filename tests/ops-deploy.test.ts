/**
 * Issue 17 (6/7), what operators install beside the server: the alert rules pass `promtool check rules`
 * (Debian's `prometheus` package; tools/ensure-system-packages.sh installs it), every metric the rules and the
 * Grafana dashboard use is one the server exports, and the systemd unit passes `systemd-analyze verify`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createServerMetrics } from '../server/http/metrics.js';

const ROOT = join(import.meta.dirname, '..');
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

it('promtool check rules passes on deploy/monitoring/fleet-alerts.yml', () => {
  expect(has('promtool'), 'promtool missing: run tools/ensure-system-packages.sh (Debian package prometheus)').toBe(true);
  const run = spawnSync('promtool', ['check', 'rules', join(ROOT, 'deploy/monitoring/fleet-alerts.yml')], { encoding: 'utf8' });
  expect(run.status, run.stdout + run.stderr).toBe(0);
  expect(run.stdout).toMatch(/SUCCESS: \d+ rules found/);
});

it('the rules and the dashboard use only metrics the server exports', async () => {
  const metrics = createServerMetrics();
  const exported = new Set(
    (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
      String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
    ),
  );
  const used = (text: string) =>
    new Set([...text.matchAll(/\b((?:fleet|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1] as string));
  const sources = ['deploy/monitoring/fleet-alerts.yml', 'deploy/monitoring/grafana-dashboard.json'];
  for (const file of sources) {
    const unknown = [...used(readFileSync(join(ROOT, file), 'utf8'))].filter((name) => !exported.has(name));
    expect(unknown, `${file} uses metrics the server does not export`).toEqual([]);
  }
  JSON.parse(readFileSync(join(ROOT, 'deploy/monitoring/grafana-dashboard.json'), 'utf8'));
});

it.skipIf(!has('systemd-analyze'))(
  'systemd-analyze verify passes on deploy/fleet-server.service (skipped without systemd-analyze)',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-unit-'));
    try {
      const unit = join(dir, 'fleet-server.service');
      copyFileSync(join(ROOT, 'deploy/fleet-server.service'), unit);
      const run = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      // verify reports most problems as warnings with status 0: none may name this unit.
      expect(run.stderr.split('\n').filter((line) => line.includes('fleet-server.service'))).toEqual([]);
      const text = readFileSync(unit, 'utf8');
      for (const line of [
        'User=fleet',
        'Restart=on-failure',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'StateDirectoryMode=0700',
      ]) {
        expect(text).toContain(line);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
