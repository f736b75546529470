/**
 * The dashboard's static files: the page built from dashboard-ui/ (`npm run build:dashboard-ui`, run by `prepare`) —
 * its ES module bundle and chunks, the preview frame, stylesheets, the pdf.js worker, and the kiosk's fonts, so
 * nothing is fetched from the internet. Only names from a fixed pattern are served, from the build's folder.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
};
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\.(js|mjs|css|svg|html)$/;
const FONT_NAME = /^[a-z0-9-]+\.(woff2|ttf)$/;

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** Where `npm run build:dashboard-ui` writes the page. */
export const DEFAULT_DASHBOARD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dashboard-ui', 'dist');

export function createStaticFiles(publicDir = DEFAULT_DASHBOARD_DIR) {
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
    /** A file of the page (`app.js`, `chunk-….js`, `style.css`, `preview.html`, …), or null when the name is not one. */
    asset(name: string): Promise<StaticFile | null> {
      const match = ASSET_NAME.exec(name);
      if (!match || name.includes('..') || name === 'index.html') return Promise.resolve(null);
      return load(join(publicDir, name), match[1] as string);
    },
    font(name: string): Promise<StaticFile | null> {
      const match = FONT_NAME.exec(name);
      return match ? load(join(publicDir, 'fonts', name), match[1] as string) : Promise.resolve(null);
    },
  };
}
