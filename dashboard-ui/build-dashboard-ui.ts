/**
 * Builds the department dashboard to dashboard-ui/dist (served by server/dashboard/static-files.ts): the page's
 * ES module bundle (esbuild), the draft-preview frame (the kiosk's own item view, kiosk-ui/src/views/item.ts,
 * bundled here with the kiosk's stylesheet), the pdf.js worker, and the kiosk's fonts (kiosk-ui/fonts.ts) so the
 * editor draws Jrai's stacked breve, Lao and Khmer exactly as a kiosk does, with nothing fetched from the internet.
 * The command line is build-cli.ts (`npm run build:dashboard-ui`, also run by the root `prepare` script).
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { fontFaceCss, fontFiles } from '../kiosk-ui/fonts.js';

const here = dirname(fileURLToPath(import.meta.url));
const kioskSrc = resolve(here, '..', 'kiosk-ui', 'src');
const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/**
 * In the preview, the kiosk's item view asks `content.js` for file addresses; on a kiosk they are the agent's
 * `/local/files/<sha>`, in the dashboard the server's `/api/v1/content/files/<sha>`. Only that one import of the
 * kiosk's views is swapped (for src/preview/kiosk-content.ts, which re-exports the rest unchanged).
 */
const previewFiles: Plugin = {
  name: 'preview-file-urls',
  setup(b) {
    b.onResolve({ filter: /\/content\.js$/ }, (args) => {
      if (!args.importer.startsWith(join(kioskSrc, 'views'))) return undefined;
      return { path: join(here, 'src', 'preview', 'kiosk-content.ts') };
    });
  },
};

/** Returns esbuild's metafile of the bundles (inputs and sizes of each output). */
export async function buildDashboardUi(outDir = join(here, 'dist')): Promise<Metafile> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'fonts'), { recursive: true });

  const bundle = await build({
    entryPoints: { app: join(here, 'src', 'main.ts'), preview: join(here, 'src', 'preview', 'preview-main.ts') },
    bundle: true,
    format: 'esm',
    target: 'chrome110',
    minify: true,
    sourcemap: false,
    // pdf.js is a chunk loaded only when the preview opens a PDF.
    splitting: true,
    outdir: outDir,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
    // What went into each output file (tests/dashboard-bundle.test.ts checks zod stays out).
    metafile: true,
    plugins: [previewFiles],
  });

  cpSync(join(packageDir('pdfjs-dist'), 'build', 'pdf.worker.min.mjs'), join(outDir, 'pdf.worker.min.mjs'));
  for (const font of fontFiles) {
    cpSync(join(packageDir(font.pkg), font.path), join(outDir, 'fonts', font.out));
  }
  writeFileSync(join(outDir, 'fonts.css'), fontFaceCss());
  cpSync(join(kioskSrc, 'styles.css'), join(outDir, 'kiosk.css'));
  cpSync(join(here, 'src', 'style.css'), join(outDir, 'style.css'));
  for (const page of ['index.html', 'preview.html']) {
    writeFileSync(join(outDir, page), readFileSync(join(here, 'src', page)));
  }
  return bundle.metafile;
}
