import { describe, expect, it } from 'vitest';
import type { ManifestItem } from '../../protocol/manifest.js';
import { attractItems, filterItems, pickTranslation, topicLabel, topicsOf, viewerFor } from './content.js';
import { formatDate, labelsFor, labelsLang } from './i18n.js';
import { idleTimeoutMs } from './idle.js';

function item(id: string, over: Partial<ManifestItem> = {}): ManifestItem {
  return {
    id,
    version: 1,
    kind: 'bulletin',
    topics: ['a'],
    validFrom: null,
    validTo: null,
    translations: { vi: { title: `vi ${id}`, summary: '' } },
    ...over,
  };
}

describe('pickTranslation', () => {
  it('shows the wanted language without a fallback mark', () => {
    const shown = pickTranslation(
      item('x', { translations: { vi: { title: 'v', summary: '' }, km: { title: 'k', summary: '' } } }),
      'km',
    );
    expect(shown).toMatchObject({ lang: 'km', fallback: false });
  });

  it('falls back to Vietnamese, then English, then whatever the item has, and says so', () => {
    expect(pickTranslation(item('x'), 'jra')).toMatchObject({ lang: 'vi', fallback: true });
    const en = item('y', { translations: { en: { title: 'e', summary: '' }, lo: { title: 'l', summary: '' } } });
    expect(pickTranslation(en, 'km')).toMatchObject({ lang: 'en', fallback: true });
    const lo = item('z', { translations: { lo: { title: 'l', summary: '' } } });
    expect(pickTranslation(lo, 'km')).toMatchObject({ lang: 'lo', fallback: true });
  });
});

describe('browsing', () => {
  const items = [
    item('a', { topics: ['law', 'health'], kind: 'video' }),
    item('b', { topics: ['health'] }),
    item('c', { topics: ['farming'], kind: 'video' }),
  ];

  it('lists each topic once, sorted, and filters by topic and kind together', () => {
    expect(topicsOf(items)).toEqual(['farming', 'health', 'law']);
    expect(topicLabel('phap-luat')).toBe('Phap luat');
    expect(filterItems(items, { topic: 'health', kind: null }).map((i) => i.id)).toEqual(['a', 'b']);
    expect(filterItems(items, { topic: 'health', kind: 'video' }).map((i) => i.id)).toEqual(['a']);
    expect(filterItems(items, { topic: null, kind: null })).toHaveLength(3);
  });

  it('attracts with featured items, or the newest when none is featured', () => {
    const dated = [
      item('old', { validFrom: '2026-01-01T00:00:00Z' }),
      item('new', { validFrom: '2026-06-01T00:00:00Z' }),
      item('mid', { validFrom: '2026-03-01T00:00:00Z' }),
    ];
    expect(attractItems(dated, 2).map((i) => i.id)).toEqual(['new', 'mid']);
    expect(attractItems([...dated, item('f', { featured: true })]).map((i) => i.id)).toEqual(['f']);
    expect(attractItems([])).toEqual([]);
  });
});

describe('viewerFor', () => {
  it('chooses the viewer from the file type, text when there is no file', () => {
    const f = (mime: string) => ({ title: 't', summary: '', file: { sha256: 'a'.repeat(64), size: 1, mime } });
    expect(viewerFor(f('application/pdf'))).toBe('pdf');
    expect(viewerFor(f('image/jpeg'))).toBe('image');
    expect(viewerFor(f('video/mp4'))).toBe('video');
    expect(viewerFor(f('audio/mpeg'))).toBe('audio');
    expect(viewerFor(f('text/html'))).toBe('web');
    expect(viewerFor(f('application/zip'))).toBe('text');
    expect(viewerFor({ title: 't', summary: '' })).toBe('text');
  });
});

describe('labels and idle config', () => {
  it('has Vietnamese and English labels and falls back to Vietnamese', () => {
    expect(labelsFor('en').home).toBe('Home');
    expect(labelsFor('jra')).toBe(labelsFor('vi'));
    expect(labelsLang('bdq')).toBe('vi');
    expect(labelsLang('km')).toBe('km');
    expect(labelsLang('en')).toBe('en');
  });

  it('reads ?idle= in seconds, defaulting to 90 s and ignoring nonsense', () => {
    expect(idleTimeoutMs('')).toBe(90_000);
    expect(idleTimeoutMs('?idle=5')).toBe(5_000);
    expect(idleTimeoutMs('?idle=-1')).toBe(90_000);
    expect(idleTimeoutMs('?idle=abc')).toBe(90_000);
  });
});

describe('formatDate', () => {
  const iso = '2026-12-01T08:05:00Z';
  it('writes Vietnamese dates the Vietnamese way, and so for languages whose words fall back to Vietnamese', () => {
    expect(formatDate(iso, 'vi')).toMatch(/^\d\d:\d\d ngày \d\d\/12\/2026$/);
    expect(formatDate(iso, 'jra')).toMatch(/ngày/);
  });
  it('writes Khmer, Lao and English dates in their own words, never the Vietnamese "ngày"', () => {
    for (const tag of ['km', 'lo', 'en']) expect(formatDate(iso, tag)).not.toMatch(/ngày/);
    expect(formatDate(iso, 'en')).toMatch(/December 2026/);
    // Khmer month name for December (ធ្នូ) and Lao (ທັນວາ), from ICU's data.
    expect(formatDate(iso, 'km')).toMatch(/ធ្នូ/);
    expect(formatDate(iso, 'lo')).toMatch(/ທັນວາ/);
  });
});
