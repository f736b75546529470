/** Composition of the kiosk page: reads config from the URL, wires the local API, counter and app. */
import { createLocalApi } from './api.js';
import { KioskApp } from './app.js';
import { idleTimeoutMs } from './idle.js';
import { ViewCounter } from './stats.js';
import { reloadPolicy, startHeartbeat, startNightlyReload } from './watchdog.js';

function lockDown(doc: Document): void {
  // A kiosk: no context menu, no text selection or dragging, no link that leaves the page.
  doc.addEventListener('contextmenu', (e) => e.preventDefault());
  doc.addEventListener('selectstart', (e) => e.preventDefault());
  doc.addEventListener('dragstart', (e) => e.preventDefault());
  doc.addEventListener(
    'click',
    (e) => {
      if ((e.target as Element | null)?.closest?.('a[href]')) e.preventDefault();
    },
    { capture: true },
  );
}

export async function startKiosk(win: Window): Promise<KioskApp> {
  const doc = win.document;
  lockDown(doc);
  const params = new URLSearchParams(win.location.search);
  const seconds = (name: string, fallback: number) => {
    const value = Number(params.get(name));
    return Number.isFinite(value) && value >= 1 && value <= 3600 ? value * 1000 : fallback;
  };
  const api = createLocalApi();
  const counter = new ViewCounter({ post: (views) => api.postViews(views) });
  const app = new KioskApp(doc.getElementById('app') as HTMLElement, api, counter, {
    idleMs: idleTimeoutMs(win.location.search),
    // `?poll=` and `?stats=` (seconds) exist for tests; a kiosk uses the defaults.
    pollMs: seconds('poll', 30_000),
    statsFlushMs: seconds('stats', 30_000),
  });
  // Views of a visitor who walks away are posted before the page is closed or reloaded.
  win.addEventListener('pagehide', () => {
    counter.end();
    const views = counter.takeAll();
    // A beacon carries at most 64 KB: batches of 100 views are ~8 KB.
    for (let i = 0; i < views.length; i += 100) api.beaconViews(views.slice(i, i + 100));
  });
  // The watchdog's heartbeat starts before the first screen: a page stuck loading is a dead screen too.
  startHeartbeat(api, () => app.screenName());
  startNightlyReload(
    reloadPolicy(win.location.search),
    () => app.isIdle(),
    api,
    () => win.location.reload(),
  );
  await app.start();
  return app;
}

void startKiosk(window);
