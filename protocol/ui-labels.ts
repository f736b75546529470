/**
 * The kiosk interface's label keys (kiosk-ui/src/i18n.ts) and, for labels that take values, their placeholders.
 * Shared by the server (the department's `PUT /api/v1/ui-labels/:lang` is checked against it) and by kiosk-ui
 * (which fills the placeholders). No zod here: kiosk-ui bundles this file.
 */
export const UI_LABEL_PLACEHOLDERS = {
  chooseLanguage: [],
  home: [],
  changeLanguage: [],
  back: [],
  allTopics: [],
  allKinds: [],
  topics: [],
  kinds: [],
  noItemsHere: [],
  online: [],
  offline: [],
  updatedOn: ['date'],
  neverUpdated: [],
  fallback: ['shownIn'],
  page: ['n', 'total'],
  previousPage: [],
  nextPage: [],
  loading: [],
  cannotShow: [],
  touchToStart: [],
  noContentTitle: [],
  noContentBody: [],
  'kind.document': [],
  'kind.video': [],
  'kind.image': [],
  'kind.audio': [],
  'kind.bulletin': [],
  'kind.leaflet': [],
  'kind.webpage': [],
} as const satisfies Record<string, readonly string[]>;

export type UiLabelKey = keyof typeof UI_LABEL_PLACEHOLDERS;
export const UI_LABEL_KEYS = Object.keys(UI_LABEL_PLACEHOLDERS) as UiLabelKey[];

/** Labels of one language as the department enters them: `{date}`-style placeholders, any key may be missing. */
export type UiLabelSet = Partial<Record<UiLabelKey, string>>;

/** Fills `{name}` placeholders of an entered label. */
export function fillLabel(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
