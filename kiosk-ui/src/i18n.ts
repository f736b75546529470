/** Languages the kiosk offers and the interface's own labels (content comes translated in the manifest). */
import type { ContentKind } from '../../protocol/domain.js';
import { fillLabel, type UiLabelKey, type UiLabelSet } from '../../protocol/ui-labels.js';

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

// Khmer and Lao: machine/team translation, for review by a native speaker (docs/kiosk-ui.md).
const km: Labels = {
  chooseLanguage: 'ជ្រើសរើសភាសា',
  home: 'ទំព័រដើម',
  changeLanguage: 'ប្ដូរភាសា',
  back: 'ត្រឡប់ក្រោយ',
  allTopics: 'ប្រធានបទទាំងអស់',
  allKinds: 'ប្រភេទទាំងអស់',
  topics: 'ប្រធានបទ',
  kinds: 'ប្រភេទមាតិកា',
  noItemsHere: 'មិនទាន់មានមាតិកានៅទីនេះទេ។',
  online: 'បានភ្ជាប់',
  offline: 'គ្មានអ៊ីនធឺណិត — កំពុងបង្ហាញមាតិកាដែលបានរក្សាទុក',
  updatedOn: (date) => `មាតិកាបានធ្វើបច្ចុប្បន្នភាព៖ ${date}`,
  neverUpdated: 'មាតិកាមិនទាន់បានធ្វើបច្ចុប្បន្នភាព',
  fallback: (shownIn) => `មិនមានជាភាសារបស់អ្នកទេ — បង្ហាញជា ${shownIn}`,
  page: (n, total) => `ទំព័រ ${n} / ${total}`,
  previousPage: 'ទំព័រមុន',
  nextPage: 'ទំព័របន្ទាប់',
  loading: 'កំពុងផ្ទុក…',
  cannotShow: 'មិនអាចបង្ហាញមាតិកានេះលើឧបករណ៍នេះបានទេ។',
  touchToStart: 'ប៉ះអេក្រង់ដើម្បីចាប់ផ្ដើម',
  noContentTitle: 'សូមស្វាគមន៍!',
  noContentBody: 'ម៉ាស៊ីននេះកំពុងរង់ចាំមាតិកាព័ត៌មាន។ សូមត្រឡប់មកវិញពេលក្រោយ។',
  kind: {
    document: 'ឯកសារ',
    video: 'វីដេអូ',
    image: 'រូបភាព',
    audio: 'សំឡេង',
    bulletin: 'ព្រឹត្តិបត្រ',
    leaflet: 'ខិត្តប័ណ្ណ',
    webpage: 'គេហទំព័រ',
  },
};

const lo: Labels = {
  chooseLanguage: 'ເລືອກພາສາ',
  home: 'ໜ້າຫຼັກ',
  changeLanguage: 'ປ່ຽນພາສາ',
  back: 'ກັບຄືນ',
  allTopics: 'ທຸກຫົວຂໍ້',
  allKinds: 'ທຸກປະເພດ',
  topics: 'ຫົວຂໍ້',
  kinds: 'ປະເພດເນື້ອຫາ',
  noItemsHere: 'ຍັງບໍ່ມີເນື້ອຫາຢູ່ບ່ອນນີ້.',
  online: 'ເຊື່ອມຕໍ່ແລ້ວ',
  offline: 'ບໍ່ມີການເຊື່ອມຕໍ່ — ກຳລັງສະແດງເນື້ອຫາທີ່ບັນທຶກໄວ້',
  updatedOn: (date) => `ອັບເດດເນື້ອຫາ: ${date}`,
  neverUpdated: 'ຍັງບໍ່ໄດ້ອັບເດດເນື້ອຫາ',
  fallback: (shownIn) => `ບໍ່ມີເປັນພາສາຂອງທ່ານ — ສະແດງເປັນ ${shownIn}`,
  page: (n, total) => `ໜ້າ ${n} / ${total}`,
  previousPage: 'ໜ້າກ່ອນ',
  nextPage: 'ໜ້າຕໍ່ໄປ',
  loading: 'ກຳລັງໂຫຼດ…',
  cannotShow: 'ບໍ່ສາມາດສະແດງເນື້ອຫານີ້ໃນເຄື່ອງນີ້ໄດ້.',
  touchToStart: 'ແຕະໜ້າຈໍເພື່ອເລີ່ມຕົ້ນ',
  noContentTitle: 'ຍິນດີຕ້ອນຮັບ!',
  noContentBody: 'ເຄື່ອງນີ້ກຳລັງລໍຖ້າເນື້ອຫາຂໍ້ມູນຂ່າວສານ. ກະລຸນາກັບມາໃໝ່ພາຍຫຼັງ.',
  kind: {
    document: 'ເອກະສານ',
    video: 'ວິດີໂອ',
    image: 'ຮູບພາບ',
    audio: 'ສຽງ',
    bulletin: 'ຂ່າວສານ',
    leaflet: 'ແຜ່ນພັບ',
    webpage: 'ໜ້າເວັບ',
  },
};

/**
 * Labels written into the kiosk: Vietnamese, English, and Khmer and Lao (machine/team translation, marked for
 * review by a native speaker in docs/kiosk-ui.md). The languages nobody on the team writes (jra, bdq, sed, jeh,
 * brb) get the labels the department entered (`setEnteredLabels`, from the signed manifest), and each label
 * missing there shows in Vietnamese.
 */
const LABELS: Record<string, Labels> = { vi, en, km, lo };

/** Labels the department entered, per language (`/local/ui-labels`), with `{name}` placeholders. */
let entered: Record<string, UiLabelSet> = {};
const built = new Map<string, Labels>();

/** Replaces the department's labels; true when they changed (the screens must be redrawn). */
export function setEnteredLabels(next: Record<string, UiLabelSet>): boolean {
  const changed = JSON.stringify(next) !== JSON.stringify(entered);
  if (changed) {
    entered = next;
    built.clear();
  }
  return changed;
}

/** A language's labels from what the department entered, each missing one taken from Vietnamese. */
function fromEntered(set: UiLabelSet): Labels {
  const text = (key: UiLabelKey, fallback: string) => set[key] ?? fallback;
  const template =
    (key: UiLabelKey, fallback: (...args: never[]) => string, names: string[]) =>
    (...args: (string | number)[]) => {
      const t = set[key];
      if (t === undefined) return (fallback as (...a: (string | number)[]) => string)(...args);
      return fillLabel(t, Object.fromEntries(names.map((n, i) => [n, args[i] ?? ''])));
    };
  return {
    chooseLanguage: text('chooseLanguage', vi.chooseLanguage),
    home: text('home', vi.home),
    changeLanguage: text('changeLanguage', vi.changeLanguage),
    back: text('back', vi.back),
    allTopics: text('allTopics', vi.allTopics),
    allKinds: text('allKinds', vi.allKinds),
    topics: text('topics', vi.topics),
    kinds: text('kinds', vi.kinds),
    noItemsHere: text('noItemsHere', vi.noItemsHere),
    online: text('online', vi.online),
    offline: text('offline', vi.offline),
    updatedOn: template('updatedOn', vi.updatedOn, ['date']) as Labels['updatedOn'],
    neverUpdated: text('neverUpdated', vi.neverUpdated),
    fallback: template('fallback', vi.fallback, ['shownIn']) as Labels['fallback'],
    page: template('page', vi.page, ['n', 'total']) as Labels['page'],
    previousPage: text('previousPage', vi.previousPage),
    nextPage: text('nextPage', vi.nextPage),
    loading: text('loading', vi.loading),
    cannotShow: text('cannotShow', vi.cannotShow),
    touchToStart: text('touchToStart', vi.touchToStart),
    noContentTitle: text('noContentTitle', vi.noContentTitle),
    noContentBody: text('noContentBody', vi.noContentBody),
    kind: {
      document: text('kind.document', vi.kind.document),
      video: text('kind.video', vi.kind.video),
      image: text('kind.image', vi.kind.image),
      audio: text('kind.audio', vi.kind.audio),
      bulletin: text('kind.bulletin', vi.kind.bulletin),
      leaflet: text('kind.leaflet', vi.kind.leaflet),
      webpage: text('kind.webpage', vi.kind.webpage),
    },
  };
}

export function labelsFor(tag: string): Labels {
  const own = LABELS[tag];
  if (own) return own;
  const set = entered[tag];
  if (!set || Object.keys(set).length === 0) return vi;
  let labels = built.get(tag);
  if (!labels) {
    labels = fromEntered(set);
    built.set(tag, labels);
  }
  return labels;
}

/** The language the labels are actually in (for the `lang` attribute of interface text). */
export function labelsLang(tag: string): string {
  if (LABELS[tag]) return tag;
  const set = entered[tag];
  return set && Object.keys(set).length > 0 ? tag : DEFAULT_LANG;
}

/** Reads the department's labels from the agent (`GET /local/ui-labels`); true when they changed. */
export async function refreshEnteredLabels(fetchFn: typeof fetch = (i, o) => fetch(i, o)): Promise<boolean> {
  // The agent answers with `cache-control: no-store`.
  const res = await fetchFn('/local/ui-labels');
  if (!res.ok) return false;
  const body = (await res.json()) as { labels?: Record<string, UiLabelSet> };
  return body && typeof body.labels === 'object' && body.labels !== null ? setEnteredLabels(body.labels) : false;
}

export function formatDate(iso: string, tag: string): string {
  const date = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  // The device's local time zone. Vietnamese (and the department-entered languages, whose words fall back to
  // Vietnamese) the way dates are written in Vietnam; English, Khmer and Lao in their own words and digits.
  const lang = labelsLang(tag);
  if (lang === DEFAULT_LANG || !LABELS[lang]) {
    return `${time} ngày ${pad(date.getDate())}/${pad(date.getMonth() + 1)}/${date.getFullYear()}`;
  }
  const locale = lang === 'en' ? 'en-GB' : lang;
  return `${new Intl.DateTimeFormat(locale, { dateStyle: 'long' }).format(date)}, ${time}`;
}
