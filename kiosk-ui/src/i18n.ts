/** Languages the kiosk offers and the interface's own labels (content comes translated in the manifest). */
import type { ContentKind } from '../../protocol/domain.js';

export interface Language {
  tag: string;
  /** The language's name in its own script. */
  name: string;
}

/** In the order shown on the first screen (reference README: languages the content must carry). */
export const LANGUAGES: readonly Language[] = [
  { tag: 'vi', name: 'Tiếng Việt' },
  { tag: 'jra', name: 'Jrai' },
  { tag: 'bdq', name: 'Bahnar' },
  { tag: 'sed', name: 'Xơ Đăng' },
  { tag: 'jeh', name: 'Giẻ Triêng' },
  { tag: 'brb', name: 'Brâu' },
  { tag: 'en', name: 'English' },
  { tag: 'lo', name: 'ພາສາລາວ' },
  { tag: 'km', name: 'ភាសាខ្មែរ' },
];

export const DEFAULT_LANG = 'vi';

export function languageName(tag: string): string {
  return LANGUAGES.find((l) => l.tag === tag)?.name ?? tag;
}

export interface Labels {
  chooseLanguage: string;
  home: string;
  changeLanguage: string;
  back: string;
  allTopics: string;
  allKinds: string;
  topics: string;
  kinds: string;
  noItemsHere: string;
  online: string;
  offline: string;
  updatedOn: (date: string) => string;
  neverUpdated: string;
  fallback: (shownIn: string) => string;
  page: (n: number, total: number) => string;
  previousPage: string;
  nextPage: string;
  loading: string;
  cannotShow: string;
  touchToStart: string;
  noContentTitle: string;
  noContentBody: string;
  kind: Record<ContentKind, string>;
}

const vi: Labels = {
  chooseLanguage: 'Chọn ngôn ngữ',
  home: 'Trang chủ',
  changeLanguage: 'Đổi ngôn ngữ',
  back: 'Quay lại',
  allTopics: 'Tất cả chủ đề',
  allKinds: 'Tất cả loại',
  topics: 'Chủ đề',
  kinds: 'Loại nội dung',
  noItemsHere: 'Không có nội dung nào ở mục này.',
  online: 'Đã kết nối',
  offline: 'Ngoại tuyến — đang hiển thị nội dung đã lưu',
  updatedOn: (date) => `Nội dung cập nhật: ${date}`,
  neverUpdated: 'Chưa cập nhật nội dung',
  fallback: (shownIn) => `Chưa có bằng ngôn ngữ của bạn — hiển thị bằng ${shownIn}`,
  page: (n, total) => `Trang ${n} / ${total}`,
  previousPage: 'Trang trước',
  nextPage: 'Trang sau',
  loading: 'Đang tải…',
  cannotShow: 'Không thể hiển thị nội dung này trên máy.',
  touchToStart: 'Chạm vào màn hình để bắt đầu',
  noContentTitle: 'Chào mừng bạn!',
  noContentBody: 'Máy đang chờ nhận nội dung thông tin. Vui lòng quay lại sau.',
  kind: {
    document: 'Tài liệu',
    video: 'Video',
    image: 'Hình ảnh',
    audio: 'Âm thanh',
    bulletin: 'Bản tin',
    leaflet: 'Tờ rơi',
    webpage: 'Trang thông tin',
  },
};

const en: Labels = {
  chooseLanguage: 'Choose your language',
  home: 'Home',
  changeLanguage: 'Change language',
  back: 'Back',
  allTopics: 'All topics',
  allKinds: 'All kinds',
  topics: 'Topics',
  kinds: 'Kinds of content',
  noItemsHere: 'Nothing here yet.',
  online: 'Connected',
  offline: 'Offline — showing saved content',
  updatedOn: (date) => `Content updated on ${date}`,
  neverUpdated: 'Content not updated yet',
  fallback: (shownIn) => `Not available in your language — shown in ${shownIn}`,
  page: (n, total) => `Page ${n} of ${total}`,
  previousPage: 'Previous page',
  nextPage: 'Next page',
  loading: 'Loading…',
  cannotShow: 'This content cannot be shown on this device.',
  touchToStart: 'Touch the screen to start',
  noContentTitle: 'Welcome!',
  noContentBody: 'This kiosk is waiting for its information content. Please come back later.',
  kind: {
    document: 'Document',
    video: 'Video',
    image: 'Image',
    audio: 'Audio',
    bulletin: 'Bulletin',
    leaflet: 'Leaflet',
    webpage: 'Web page',
  },
};

/**
 * Only Vietnamese and English labels are written here: the labels for the other languages must come from
 * native speakers, and a wrong word on an official kiosk is worse than a Vietnamese one.
 */
const LABELS: Record<string, Labels> = { vi, en };

export function labelsFor(tag: string): Labels {
  return LABELS[tag] ?? vi;
}

/** The language the labels are actually in (for the `lang` attribute of interface text). */
export function labelsLang(tag: string): string {
  return LABELS[tag] ? tag : DEFAULT_LANG;
}

export function formatDate(iso: string, tag: string): string {
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  // Day first in both: the way dates are written in Vietnam; the device's local time zone.
  if (labelsLang(tag) === 'en') {
    return `${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long' }).format(date)}, ${time}`;
  }
  return `${time} ngày ${pad(date.getDate())}/${pad(date.getMonth() + 1)}/${date.getFullYear()}`;
}
