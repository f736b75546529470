/**
 * DESIGN §2: every part may import protocol/; nothing else crosses between server/, agent/, kiosk-ui/ and
 * provisioning/; protocol/ imports nothing of the project. This test reads every import in those folders.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PARTS = ['protocol', 'server', 'agent', 'kiosk-ui', 'provisioning'] as const;
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
        found.push(`${relative(root, file)} imports ${specifier} (${target})`);
      }
    }
  }
  return found;
}

describe('architecture', () => {
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
