/**
 * The dashboard's static files: hand-written ES modules, a stylesheet and the Noto Sans faces (Vietnamese
 * and Latin subsets) from the installed @fontsource package, so nothing is fetched from the internet.
 * Only names from a fixed pattern are served, from two known folders.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  woff2: 'font/woff2',
};
const ASSET_NAME = /^[a-z0-9][a-z0-9-]*\.(js|css|svg)$/;
const FONT_NAME = /^noto-sans-(vietnamese|latin)-(400|700)-normal\.woff2$/;

export interface StaticFile {
  body: Buffer;
  type: string;
}

export function createStaticFiles(publicDir = join(dirname(fileURLToPath(import.meta.url)), 'public')) {
  const fontDir = join(dirname(createRequire(import.meta.url).resolve('@fontsource/noto-sans/package.json')), 'files');

  async function load(path: string, ext: string): Promise<StaticFile | null> {
    try {
      return { body: await readFile(path), type: TYPES[ext] ?? 'application/octet-stream' };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  return {
    index: () => load(join(publicDir, 'index.html'), 'html'),
    /** A file of the page (`app.js`, `style.css`, …), or null when the name is not one. */
    asset(name: string): Promise<StaticFile | null> {
      const match = ASSET_NAME.exec(name);
      return match ? load(join(publicDir, name), match[1] as string) : Promise.resolve(null);
    },
    font(name: string): Promise<StaticFile | null> {
      return FONT_NAME.test(name) ? load(join(fontDir, name), 'woff2') : Promise.resolve(null);
    },
  };
}
