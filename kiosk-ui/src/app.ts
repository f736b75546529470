/** The kiosk page's state and navigation: which screen, which language, which manifest. */
import type { LocalManifest } from '../../protocol/local.js';
import type { ManifestItem } from '../../protocol/manifest.js';
import type { LocalApi } from './api.js';
import type { Filter } from './content.js';
import { DEFAULT_LANG, labelsFor, labelsLang, refreshEnteredLabels } from './i18n.js';
import { IdleTimer } from './idle.js';
import type { ViewCounter } from './stats.js';
import { attractScreen } from './views/attract.js';
import { browseScreen } from './views/browse.js';
import { statusBar } from './views/chrome.js';
import type { ViewContext } from './views/context.js';
import { itemScreen } from './views/item.js';
import { languageScreen } from './views/language.js';
import { noContentScreen, pairingScreen } from './views/notices.js';

export interface KioskConfig {
  idleMs: number;
  pollMs: number;
  statsFlushMs: number;
}

type Screen = { name: 'languages' } | { name: 'browse' } | { name: 'item'; item: ManifestItem } | { name: 'attract' };

/** What is shown until the agent first answers: not blank, and honest about not knowing yet. */
const NOTHING_YET: LocalManifest = {
  deviceId: null,
  siteId: null,
  online: false,
  pairing: null,
  seq: 0,
  appliedAt: null,
  items: [],
};

/** What the screens are drawn from: the items and the pairing state (the status bar reads the rest). */
function screenContent(m: LocalManifest): string {
  return JSON.stringify({ pairing: m.pairing, items: m.items });
}

export class KioskApp {
  private manifest: LocalManifest = NOTHING_YET;
  private manifestJson = '';
  private lang = DEFAULT_LANG;
  private filter: Filter = { topic: null, kind: null };
  private screen: Screen = { name: 'languages' };
  private cleanup: () => void = () => {};
  private timers: ReturnType<typeof setInterval>[] = [];
  private readonly idle: IdleTimer;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: LocalApi,
    private readonly counter: ViewCounter,
    private readonly config: KioskConfig,
  ) {
    this.idle = new IdleTimer(root.ownerDocument, config.idleMs, () => this.onIdle());
  }

  async start(): Promise<void> {
    this.idle.start();
    this.timers.push(setInterval(() => void this.refresh(), this.config.pollMs));
    this.timers.push(setInterval(() => void this.counter.flush(), this.config.statsFlushMs));
    await this.refresh(true);
  }

  /** Nobody has touched the kiosk for the idle timeout (nightly reload waits for this). */
  isIdle(): boolean {
    return this.idle.isIdle();
  }

  screenName(): string {
    return this.root.dataset.screen ?? '';
  }

  stop(): void {
    this.idle.stop();
    for (const t of this.timers) clearInterval(t);
    this.cleanup();
  }

  /**
   * Fetches the manifest; re-renders only when what the screens show changed, so a poll never disturbs a visitor
   * mid-item. A change of the link state or the update date alone (a link flap) redraws only the status bar: the
   * visitor's scroll position, open item and focus stay.
   */
  async refresh(force = false): Promise<void> {
    try {
      const next = await this.api.manifest();
      // The department's labels (jra, bdq, …) travel with the manifest; new ones redraw the screen.
      const labelsChanged = await refreshEnteredLabels().catch(() => false);
      const json = screenContent(next);
      if (json === this.manifestJson && !force && !labelsChanged) {
        const statusChanged = next.online !== this.manifest.online || next.appliedAt !== this.manifest.appliedAt;
        this.manifest = next;
        if (statusChanged) this.refreshStatus();
        return;
      }
      const hadContent = this.manifest.items.length > 0 && !this.manifest.pairing;
      this.manifest = next;
      this.manifestJson = json;
      const hasContent = next.items.length > 0 && !next.pairing;
      if (this.screen.name === 'item' && hadContent && hasContent) {
        const open = this.screen.item.id;
        const still = next.items.find((i) => i.id === open);
        if (still) {
          this.refreshStatus();
          return;
        }
        this.screen = { name: 'browse' };
      }
      this.render();
    } catch {
      // The agent is the local machine: if it does not answer, keep what is on screen and try again at the next poll.
      if (force) this.render();
    }
  }

  private context(): ViewContext {
    return {
      manifest: this.manifest,
      lang: this.lang,
      labels: labelsFor(this.lang),
      labelsLang: labelsLang(this.lang),
      filter: this.filter,
      chooseLanguage: (tag) => {
        this.lang = tag;
        this.filter = { topic: null, kind: null };
        this.navigate({ name: 'browse' });
      },
      showLanguages: () => this.navigate({ name: 'languages' }),
      goHome: () => {
        this.navigate({ name: 'browse' });
        void this.refresh();
      },
      setFilter: (filter) => {
        this.filter = filter;
        this.navigate({ name: 'browse' });
      },
      openItem: (item) => this.navigate({ name: 'item', item }),
    };
  }

  private navigate(screen: Screen): void {
    this.screen = screen;
    this.render();
  }

  private onIdle(): void {
    this.lang = DEFAULT_LANG;
    this.filter = { topic: null, kind: null };
    this.navigate({ name: 'attract' });
    void this.refresh();
    void this.counter.flush();
  }

  private render(): void {
    this.cleanup();
    this.counter.end();
    this.cleanup = () => {};
    const ctx = this.context();
    const doc = this.root.ownerDocument;
    doc.documentElement.lang = ctx.labelsLang;
    let elements: HTMLElement[];
    if (this.manifest.pairing) {
      elements = pairingScreen(ctx, this.manifest.pairing);
    } else if (this.manifest.items.length === 0) {
      elements = noContentScreen(ctx);
    } else {
      const screen = this.screen;
      switch (screen.name) {
        case 'languages':
          elements = languageScreen(ctx);
          break;
        case 'browse':
          elements = browseScreen(ctx);
          break;
        case 'item': {
          const view = itemScreen(ctx, screen.item);
          elements = view.elements;
          this.cleanup = view.destroy;
          this.counter.start(screen.item.id, view.lang);
          break;
        }
        case 'attract': {
          const view = attractScreen(ctx);
          elements = view.elements;
          this.cleanup = view.destroy;
          break;
        }
      }
    }
    const active = doc.activeElement;
    const focusWasInside = active !== null && active !== doc.body && this.root.contains(active);
    this.root.replaceChildren(...elements);
    // For load-time measurements (tests/kiosk-ui-agent.test.ts): when the first real screen was on the page.
    if (this.manifestJson && performance.getEntriesByName('kiosk-first-screen').length === 0)
      performance.mark('kiosk-first-screen');
    this.root.dataset.screen = elements[0]?.dataset.screen ?? elements[1]?.dataset.screen ?? '';
    // Move focus to the new screen's heading so keyboard and screen-reader users start at the top.
    const heading = this.root.querySelector<HTMLElement>('h1');
    if (heading && focusWasInside) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }

  private refreshStatus(): void {
    const old = this.root.querySelector('footer.status-bar');
    old?.replaceWith(statusBar(this.context()));
  }
}
