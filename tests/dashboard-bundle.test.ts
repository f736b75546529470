/**
 * The pages' bundles stay free of zod: the dashboard and the kiosk page take their values from protocol/constants.ts
 * and every type with `import type` (a value import of a schema module would bring zod, ~400 KB, into the page).
 * Builds both with their real build functions into temporary folders and reads esbuild's metafile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDashboardUi } from '../dashboard-ui/build-dashboard-ui.js';
import { buildKioskUi } from '../kiosk-ui/build-kiosk-ui.js';

const dir = mkdtempSync(join(tmpdir(), 'page-bundles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const isZod = (input: string) => /(^|\/)node_modules\/zod\//.test(input);

/**
 * Where zod comes into the bundle, when it does: each module that imports zod, or imports a module that carries it,
 * with that import ("dashboard-ui/src/views/x.ts -> protocol/api.ts"). What to change is the first page module named.
 */
function zodPaths(meta: Metafile): string[] {
  const carrying = new Set(Object.keys(meta.inputs).filter(isZod));
  const found: string[] = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [path, input] of Object.entries(meta.inputs)) {
      if (carrying.has(path)) continue;
      const via = input.imports.find((i) => carrying.has(i.path));
      if (!via) continue;
      carrying.add(path);
      if (!isZod(via.path)) found.push(`${path} -> ${via.path}`);
      else found.push(`${path} -> zod`);
      grew = true;
    }
  }
  return found;
}

function report(name: string, meta: Metafile): Record<string, number> {
  const sizes = Object.fromEntries(
    Object.entries(meta.outputs)
      .filter(([path]) => path.endsWith('.js'))
      .map(([path, out]) => [path.slice(path.lastIndexOf('/') + 1), out.bytes]),
  );
  console.log(`${name} bundle (bytes, minified):`, sizes);
  return sizes;
}

describe('page bundles', () => {
  it('the dashboard (app.js and the preview frame) carries no zod', async () => {
    const meta = await buildDashboardUi(join(dir, 'dashboard'));
    const sizes = report('dashboard', meta);
    expect(zodPaths(meta), 'these imports bring zod into the dashboard bundle').toEqual([]);
    expect(Object.keys(meta.inputs).filter(isZod)).toEqual([]);
    // Without zod app.js is ~70 KB (520 KB with it): a budget that a stray value import of a schema breaks.
    expect(sizes['app.js']).toBeLessThan(150_000);
  }, 120_000);

  it('the kiosk page carries no zod', async () => {
    const meta = await buildKioskUi(join(dir, 'kiosk'));
    report('kiosk', meta);
    expect(zodPaths(meta), 'these imports bring zod into the kiosk bundle').toEqual([]);
    expect(Object.keys(meta.inputs).filter(isZod)).toEqual([]);
  }, 120_000);
});
