/** A PDF read page by page with pdf.js; the worker and its data are served from dist, so it works offline. */
import type { PDFDocumentLoadingTask, PDFDocumentProxy } from 'pdfjs-dist';
import { h } from '../dom.js';
import type { Labels } from '../i18n.js';

/**
 * pdf.js reads the file in pieces of this size; contiguous pieces go in one request, so a 1 MiB image is one request.
 * Small, because finding page N in a flat page tree reads one piece per page before it.
 */
export const PDF_CHUNK_BYTES = 64 * 1024;

export interface PdfViewer {
  element: HTMLElement;
  destroy(): void;
}

export function pdfViewer(url: string, labels: Labels, labelsLang: string): PdfViewer {
  const canvas = h('canvas', { class: 'pdf-page', 'data-testid': 'pdf-canvas' });
  const pageLabel = h(
    'span',
    { class: 'pdf-page-label', 'aria-live': 'polite', 'data-testid': 'pdf-page-label' },
    labels.loading,
  );
  const prev = h('button', { type: 'button', class: 'nav', 'data-testid': 'pdf-prev', disabled: true }, labels.previousPage);
  const next = h('button', { type: 'button', class: 'nav', 'data-testid': 'pdf-next', disabled: true }, labels.nextPage);
  const frame = h('div', { class: 'pdf-frame' }, canvas);
  const element = h(
    'div',
    { class: 'pdf-viewer', lang: labelsLang },
    h('div', { class: 'pdf-controls' }, prev, pageLabel, next),
    frame,
  );

  quietAborts();
  const base = new URL('./pdfjs/', document.baseURI).href;
  let task: PDFDocumentLoadingTask | null = null;
  let doc: PDFDocumentProxy | null = null;
  let current = 1;
  let rendering: Promise<void> = Promise.resolve();
  let destroyed = false;

  async function render(pageNumber: number): Promise<void> {
    if (!doc || destroyed) return;
    const page = await doc.getPage(pageNumber);
    const width = Math.max(300, frame.clientWidth || 800);
    const unscaled = page.getViewport({ scale: 1 });
    const scale = width / unscaled.width;
    const ratio = window.devicePixelRatio || 1;
    const viewport = page.getViewport({ scale: scale * ratio });
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
    await page.render({ canvas, viewport }).promise;
    current = pageNumber;
    pageLabel.textContent = labels.page(current, doc.numPages);
    canvas.dataset.renderedPage = String(current);
    prev.disabled = current <= 1;
    next.disabled = current >= doc.numPages;
  }

  function go(pageNumber: number): void {
    // Serialise renders: pdf.js refuses two renders on one canvas at once.
    rendering = rendering.then(() => render(pageNumber)).catch(() => undefined);
  }
  prev.addEventListener('click', () => go(current - 1));
  next.addEventListener('click', () => go(current + 1));

  import('pdfjs-dist')
    .then((pdfjs) => {
      if (destroyed) return;
      pdfjs.GlobalWorkerOptions.workerSrc = new URL('./pdf.worker.min.mjs', document.baseURI).href;
      task = pdfjs.getDocument({
        url,
        // Read by range, chunk by chunk as pages are shown (the agent serves Range): a 200 MiB PDF costs the pages
        // opened, not 200 MiB of memory. Without disableStream pdf.js would still stream the whole file.
        rangeChunkSize: PDF_CHUNK_BYTES,
        disableAutoFetch: true,
        disableStream: true,
        isEvalSupported: false,
        standardFontDataUrl: `${base}standard_fonts/`,
        cMapUrl: `${base}cmaps/`,
        cMapPacked: true,
        wasmUrl: `${base}wasm/`,
        iccUrl: `${base}iccs/`,
      });
      return task.promise;
    })
    .then(
      (loaded) => {
        if (!loaded || destroyed) return;
        doc = loaded;
        go(1);
      },
      () => {
        if (!destroyed) pageLabel.textContent = labels.cannotShow;
      },
    );

  return {
    element,
    destroy() {
      destroyed = true;
      task?.destroy().catch(() => undefined);
    },
  };
}

let abortsQuiet = false;
/**
 * pdf.js aborts requests it no longer needs (the whole-file request once it knows ranges work, the range requests of
 * a PDF closed mid-load), and the aborted fetch rejects where pdf.js does not catch it ("signal is aborted without
 * reason"): an unhandled rejection for a cancellation, seen in the dashboard's preview now and then. Such
 * AbortErrors are not failures of the page; everything else still reaches the window's error reporting.
 */
function quietAborts(): void {
  if (abortsQuiet) return;
  abortsQuiet = true;
  window.addEventListener('unhandledrejection', (event) => {
    const reason = event.reason as { name?: unknown } | null;
    if (reason && typeof reason === 'object' && reason.name === 'AbortError') event.preventDefault();
  });
}
