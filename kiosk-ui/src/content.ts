/** Choosing what to show from the manifest: translation per language, topics, kinds, featured items. */
import type { ManifestItem, ManifestTranslation } from '../../protocol/manifest.js';
import { DEFAULT_LANG } from './i18n.js';

export interface Shown {
  lang: string;
  translation: ManifestTranslation;
  /** True when the item has no translation in the wanted language. */
  fallback: boolean;
}

/** The wanted language, else Vietnamese, else English, else the item's first translation. */
export function pickTranslation(item: ManifestItem, wanted: string): Shown {
  const order = [wanted, DEFAULT_LANG, 'en', ...Object.keys(item.translations)];
  for (const lang of order) {
    const translation = item.translations[lang];
    if (translation) return { lang, translation, fallback: lang !== wanted };
  }
  // The schema requires at least one translation, so this is unreachable with a valid manifest.
  throw new Error(`item ${item.id} has no translation`);
}

export function topicsOf(items: readonly ManifestItem[]): string[] {
  return [...new Set(items.flatMap((i) => i.topics))].sort((a, b) => a.localeCompare(b));
}

/**
 * Topics are slugs in the manifest (`phap-luat`, `border-law`): shown with spaces and a capital. The manifest carries
 * no display names for topics; when it does, they belong here.
 */
export function topicLabel(slug: string): string {
  const words = slug.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function kindsOf(items: readonly ManifestItem[]): ManifestItem['kind'][] {
  return [...new Set(items.map((i) => i.kind))];
}

export interface Filter {
  topic: string | null;
  kind: ManifestItem['kind'] | null;
}

export function filterItems(items: readonly ManifestItem[], filter: Filter): ManifestItem[] {
  return items.filter(
    (i) => (filter.topic === null || i.topics.includes(filter.topic)) && (filter.kind === null || i.kind === filter.kind),
  );
}

/** The attract loop: featured items, or the newest few when none is featured. */
export function attractItems(items: readonly ManifestItem[], max = 5): ManifestItem[] {
  const featured = items.filter((i) => i.featured);
  if (featured.length > 0) return featured.slice(0, max);
  const when = (i: ManifestItem) => (i.validFrom ? Date.parse(i.validFrom) : 0);
  return [...items].sort((a, b) => when(b) - when(a) || b.version - a.version).slice(0, max);
}

export type Viewer = 'pdf' | 'image' | 'video' | 'audio' | 'web' | 'text';

/** How a translation's file is shown: by its MIME type, whatever the item's kind. */
export function viewerFor(translation: ManifestTranslation): Viewer {
  const mime = translation.file?.mime.toLowerCase();
  if (!mime) return 'text';
  if (mime === 'application/pdf') return 'pdf';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime === 'text/html') return 'web';
  return 'text';
}

export function fileUrl(sha256: string): string {
  return `/local/files/${sha256}`;
}
