/**
 * DESIGN §2: every part may import protocol/; nothing else crosses between server/, agent/, kiosk-ui/ and
 * provisioning/; protocol/ imports nothing of the project. This test reads every import in those folders.
 * bench/ and tools/ (load generators, benchmarks, demo and release tools) drive the parts from outside: they
 * may import protocol/, server/ and agent/ (to run them), tools/ may not import bench/ or tests/, bench/ may use
 * the tests' helpers; neither imports kiosk-ui/ or provisioning/. They seed and check through the server's
 * own functions (registry, ingest), never writing its tables with SQL of their own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PARTS = ['protocol', 'server', 'agent', 'kiosk-ui', 'dashboard-ui', 'provisioning'] as const;
/**
 * The one link between parts besides protocol/: the dashboard's preview renders a draft with the kiosk's own item
 * view, languages and fonts (DESIGN §2), so an editor sees what a citizen will.
 */
const ALSO_ALLOWED: Partial<Record<(typeof PARTS)[number], ReadonlySet<string>>> = {
  'dashboard-ui': new Set(['kiosk-ui']),
};
type Part = (typeof PARTS)[number];

function sourceFiles(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ['node_modules', 'dist'].includes(entry.name) ? [] : sourceFiles(path);
    return /\.(ts|tsx|js|mjs|cjs)$/.test(entry.name) ? [path] : [];
  });
}

/** Static imports, re-exports, dynamic imports and require() calls. */
function importSpecifiers(source: string): string[] {
  const patterns = [
    /\bimport\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1] as string));
}

/** Which part a specifier imported from `file` lands in, or null for a package or a non-part file. */
function targetPart(file: string, specifier: string): Part | 'project' | null {
  if (!specifier.startsWith('.') && !specifier.startsWith('/')) return null;
  const target = resolve(dirname(file), specifier);
  const rel = relative(root, target);
  if (rel.startsWith('..')) return null;
  const top = rel.split(sep)[0] as string;
  return (PARTS as readonly string[]).includes(top) ? (top as Part) : 'project';
}

function violations(): string[] {
  const found: string[] = [];
  for (const part of PARTS) {
    for (const file of sourceFiles(join(root, part))) {
      for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
        const target = targetPart(file, specifier);
        if (target === null || target === part) continue;
        if (part !== 'protocol' && target === 'protocol') continue;
        if (ALSO_ALLOWED[part]?.has(target)) continue;
        found.push(`${relative(root, file)} imports ${specifier} (${target})`);
      }
    }
  }
  return found;
}

/** What bench/ and tools/ may import besides packages, protocol/ and their own folder. */
const DRIVER_MAY_IMPORT: Record<'bench' | 'tools', ReadonlySet<string>> = {
  bench: new Set(['server', 'agent', 'tools', 'tests']),
  tools: new Set(['server', 'agent']),
};

/** The top folder a relative specifier from `file` lands in (null for a package or outside the project). */
function targetTop(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.') && !specifier.startsWith('/')) return null;
  const rel = relative(root, resolve(dirname(file), specifier));
  return rel.startsWith('..') ? null : (rel.split(sep)[0] as string);
}

function driverViolations(): string[] {
  const found: string[] = [];
  for (const driver of ['bench', 'tools'] as const) {
    for (const file of sourceFiles(join(root, driver))) {
      for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
        const top = targetTop(file, specifier);
        if (top === null || top === driver || top === 'protocol' || DRIVER_MAY_IMPORT[driver].has(top)) continue;
        found.push(`${relative(root, file)} imports ${specifier} (${top})`);
      }
      // bench/ may take the tests' helpers, not test files.
      for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (targetTop(file, specifier) === 'tests' && /\.test\.[jt]s$/.test(specifier)) {
          found.push(`${relative(root, file)} imports a test file ${specifier}`);
        }
      }
    }
  }
  return found;
}

/** SQL that writes the server's tables, in string literals of bench/ and tools/. */
const SQL_WRITE = /\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|REPLACE\s+INTO)\b/i;
/** Files not moved to the server's functions yet (owned elsewhere); each is a debt, named here. */
const SQL_WRITE_EXCEPTIONS = new Set([
  // Builds a 1 000 000-row database for the backup bench; bench/lib/prefill.ts does the same through ingest.
  'bench/backup.ts',
]);

function driverSqlWrites(): string[] {
  const found: string[] = [];
  for (const driver of ['bench', 'tools']) {
    for (const file of sourceFiles(join(root, driver))) {
      const rel = relative(root, file).split(sep).join('/');
      if (SQL_WRITE_EXCEPTIONS.has(rel)) continue;
      const source = readFileSync(file, 'utf8');
      for (const [i, line] of source.split('\n').entries()) {
        if (SQL_WRITE.test(line) && !/^\s*(\/\/|\*)/.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
      }
    }
  }
  return found;
}

describe('architecture', () => {
  it('lets bench/ and tools/ drive the parts only through what they may import', () => {
    expect(driverViolations()).toEqual([]);
  });

  it('has bench/ and tools/ seed and check through the server\u2019s functions, not SQL writes of their own', () => {
    expect(driverSqlWrites()).toEqual([]);
  });

  it('recognises SQL writes', () => {
    for (const sql of [
      'INSERT INTO health (a) VALUES (?)',
      "UPDATE devices SET status = 'active'",
      'DELETE FROM x',
      'INSERT OR IGNORE INTO sites',
    ])
      expect(SQL_WRITE.test(sql)).toBe(true);
    expect(SQL_WRITE.test('SELECT seq FROM health WHERE device_id = ?')).toBe(false);
  });

  it('keeps parts apart: only protocol/ is shared, and protocol/ imports nothing of the project', () => {
    expect(violations()).toEqual([]);
  });

  it('recognises every import form', () => {
    const source = [
      `import { a } from '../server/a.js';`,
      `import type { B } from "../agent/b.js";`,
      `export * from '../kiosk-ui/c.js';`,
      `import '../provisioning/d.js';`,
      `const e = await import('../server/e.js');`,
      `const f = require('../agent/f.js');`,
    ].join('\n');
    expect(importSpecifiers(source)).toHaveLength(6);
  });
});
