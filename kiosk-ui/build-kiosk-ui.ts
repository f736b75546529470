/**
 * Builds the kiosk page to kiosk-ui/dist: one ES module bundle (esbuild), the pdf.js worker and its data,
 * and the fonts copied from the installed packages so the page needs nothing from the internet.
 * The command line is build-cli.ts (`npm run build:kiosk-ui`, also run by the root `prepare` script).
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { fontFaceCss, fontFiles } from './fonts.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** Returns esbuild's metafile of the bundle (inputs and sizes of each output). */
export async function buildKioskUi(outDir = join(here, 'dist')): Promise<Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'fonts'), { recursive: true });

  const bundle = await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'chrome110',
    minify: true,
    sourcemap: false,
    // pdf.js (most of the code) is split into a chunk loaded only when a PDF is opened: a faster first screen.
    splitting: true,
    outdir: outDir,
    entryNames: 'app',
    chunkNames: 'chunks/[name]-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
    // What went into each output file (tests/dashboard-bundle.test.ts checks zod stays out).
    metafile: true,
  });

  const pdfjs = packageDir('pdfjs-dist');
  cpSync(join(pdfjs, 'build', 'pdf.worker.min.mjs'), join(outDir, 'pdf.worker.min.mjs'));
  // Data pdf.js fetches at run time for PDFs without embedded fonts or with JPX/ICC images: served locally too.
  for (const folder of ['standard_fonts', 'cmaps', 'wasm', 'iccs']) {
    cpSync(join(pdfjs, folder), join(outDir, 'pdfjs', folder), { recursive: true });
  }

  for (const font of fontFiles) {
    cpSync(join(packageDir(font.pkg), font.path), join(outDir, 'fonts', font.out));
  }
  writeFileSync(join(outDir, 'fonts.css'), fontFaceCss());
  cpSync(join(here, 'src', 'styles.css'), join(outDir, 'styles.css'));
  writeFileSync(join(outDir, 'index.html'), readFileSync(join(here, 'src', 'index.html')));
  return bundle.metafile;
}
