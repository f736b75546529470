import type { LocalManifest } from '../../../protocol/local.js';
import type { ManifestItem } from '../../../protocol/manifest.js';
import type { Filter } from '../content.js';
import type { Labels } from '../i18n.js';

/** What every screen may read and do; the app owns the state and re-renders on each action. */
export interface ViewContext {
  manifest: LocalManifest;
  lang: string;
  labels: Labels;
  /** The language the labels are written in (for `lang` attributes). */
  labelsLang: string;
  filter: Filter;
  chooseLanguage(tag: string): void;
  showLanguages(): void;
  goHome(): void;
  setFilter(filter: Filter): void;
  openItem(item: ManifestItem): void;
}
