// Every label of the dashboard, Vietnamese first; English is switchable and remembered in this browser.
const LABELS = {
  brand: ['Thông tin đối ngoại biên giới', 'Border information kiosks'],
  navCoverage: ['Độ phủ', 'Coverage'],
  navSites: ['Xã & điểm', 'Communes & sites'],
  navAlerts: ['Cảnh báo', 'Alerts'],
  navMap: ['Bản đồ', 'Map'],
  navContent: ['Nội dung', 'Content'],
  navTokens: ['Mã đăng ký', 'Enrollment tokens'],
  navPairing: ['Ghép nối', 'Pairing'],
  navUsers: ['Người dùng', 'Users'],
  navAudit: ['Nhật ký', 'Audit log'],
  switchLang: ['English', 'Tiếng Việt'],
  logout: ['Đăng xuất', 'Log out'],
  loginTitle: ['Đăng nhập', 'Log in'],
  username: ['Tên đăng nhập', 'User name'],
  password: ['Mật khẩu', 'Password'],
  loginButton: ['Đăng nhập', 'Log in'],
  loginFailed: ['Sai tên đăng nhập hoặc mật khẩu', 'Wrong user name or password'],
  loading: ['Đang tải…', 'Loading…'],
  forbiddenTitle: ['Không có quyền truy cập', 'Access denied'],
  forbiddenText: ['Vai trò của bạn ({role}) không được xem trang này.', 'Your role ({role}) may not see this page.'],
  sessionEnded: ['Phiên đăng nhập đã hết, vui lòng đăng nhập lại.', 'Your session ended; please log in again.'],
  errorPrefix: ['Lỗi', 'Error'],
  notAvailable: ['Chức năng này chưa có trên máy chủ.', 'This function is not available on the server yet.'],
  notFound: ['Không tìm thấy', 'Not found'],
  coverageTitle: ['Độ phủ theo kế hoạch', 'Coverage against the plan'],
  plan: ['Kế hoạch', 'Plan'],
  asOf: ['Tính đến ngày', 'As of'],
  phase: ['Giai đoạn', 'Phase'],
  deadline: ['Hạn', 'Deadline'],
  judgedAt: ['đánh giá tại ngày', 'judged on'],
  met: ['Đạt', 'Met'],
  notMet: ['Chưa đạt', 'Not met'],
  noUnits: ['Không có đơn vị trong phạm vi', 'No units in scope'],
  equippedOf: ['{e}/{t} đơn vị được trang bị, cần {r}', '{e} of {t} units equipped, {r} required'],
  operationalNow: ['{o} đang hoạt động', '{o} operational now'],
  trendTitle: ['Tiến độ theo thời gian', 'Progress over time'],
  trendLegendActual: ['Thực tế', 'Actual'],
  trendLegendLine: ['Đường tới mục tiêu', 'Line to the target'],
  projMet: ['Đã đạt mục tiêu.', 'Target already met.'],
  projOnTrack: [
    'Với tốc độ hiện nay ({rate}/tháng), đạt yêu cầu vào {req}; 100% vào {all}.',
    'At this pace ({rate}/month), the requirement is reached by {req}; 100% by {all}.',
  ],
  projBehind: [
    'Với tốc độ hiện nay ({rate}/tháng), chỉ đạt yêu cầu vào {req} — sau hạn {deadline}.',
    'At this pace ({rate}/month), the requirement is reached only by {req} — after the deadline {deadline}.',
  ],
  projNever: [
    'Với tốc độ hiện nay ({rate}/tháng), sẽ không đạt mục tiêu.',
    'At this pace ({rate}/month), the target will never be reached.',
  ],
  projNoUnits: ['Không có đơn vị trong phạm vi.', 'No units in scope.'],
  never: ['không bao giờ', 'never'],
  reports: ['Báo cáo', 'Reports'],
  downloadCsv: ['Tải báo cáo CSV', 'Download CSV report'],
  downloadXlsx: ['Tải báo cáo Excel (XLSX)', 'Download Excel (XLSX) report'],
  communesTitle: ['Tiến độ theo xã', 'Progress per commune'],
  sitesTitle: ['Huyện → xã → điểm', 'District → commune → site'],
  search: ['Tìm', 'Search'],
  district: ['Huyện', 'District'],
  commune: ['Xã', 'Commune'],
  site: ['Điểm', 'Site'],
  kind: ['Loại', 'Kind'],
  state: ['Trạng thái', 'State'],
  all: ['Tất cả', 'All'],
  devices: ['Thiết bị', 'Devices'],
  equipped: ['Đã trang bị', 'Equipped'],
  operational: ['Đang hoạt động', 'Operational'],
  planned: ['Dự kiến', 'Planned'],
  none: ['Chưa có', 'None'],
  problem: ['Có sự cố', 'With problems'],
  lastSeen: ['Lần cuối', 'Last seen'],
  contentSeq: ['Nội dung (seq)', 'Content seq'],
  problems: ['Sự cố', 'Problems'],
  offlineN: ['{n} mất kết nối', '{n} offline'],
  syncFailN: ['{n} lỗi tải', '{n} download failures'],
  prev: ['‹ Trước', '‹ Previous'],
  next: ['Sau ›', 'Next ›'],
  pageOf: ['{from}–{to} / {total}', '{from}–{to} of {total}'],
  apply: ['Lọc', 'Filter'],
  kind_district: ['Huyện', 'District'],
  kind_commune: ['Xã', 'Commune'],
  kind_station: ['Đồn biên phòng', 'Border-guard station'],
  kind_gate: ['Cửa khẩu', 'Border gate'],
  kind_office: ['Cơ quan', 'Office'],
  siteTitle: ['Điểm: {name}', 'Site: {name}'],
  abolished: ['đã giải thể từ {d}', 'abolished after {d}'],
  parent: ['Thuộc', 'Part of'],
  coordinates: ['Tọa độ', 'Coordinates'],
  deviceTitle: ['Thiết bị {id}', 'Device {id}'],
  status: ['Tình trạng', 'Status'],
  model: ['Mẫu', 'Model'],
  serial: ['Số sê-ri', 'Serial'],
  agentVersion: ['Phiên bản agent', 'Agent version'],
  firstSeen: ['Kết nối lần đầu', 'First seen'],
  equippedAt: ['Trang bị từ', 'Equipped since'],
  online: ['Trực tuyến', 'Online'],
  offline: ['Mất kết nối', 'Offline'],
  health: ['Tình trạng máy', 'Health'],
  range24h: ['24 giờ', '24 h'],
  range7d: ['7 ngày', '7 days'],
  range30d: ['30 ngày', '30 days'],
  cpu: ['CPU (%)', 'CPU (%)'],
  mem: ['Bộ nhớ (%)', 'Memory (%)'],
  disk: ['Ổ đĩa (%)', 'Disk (%)'],
  temp: ['Nhiệt độ (°C)', 'Temperature (°C)'],
  noData: ['Không có dữ liệu', 'No data'],
  events: ['Sự kiện', 'Events'],
  commands: ['Lệnh', 'Commands'],
  sendCommand: ['Gửi lệnh', 'Send command'],
  commandType: ['Loại lệnh', 'Command'],
  params: ['Tham số (JSON)', 'Parameters (JSON)'],
  send: ['Gửi', 'Send'],
  sent: ['Đã gửi', 'Sent'],
  syncState: ['Đồng bộ nội dung', 'Content sync'],
  time: ['Thời gian', 'Time'],
  severity: ['Mức', 'Severity'],
  message: ['Nội dung', 'Message'],
  created: ['Tạo lúc', 'Created'],
  by: ['Bởi', 'By'],
  revoke: ['Thu hồi thiết bị', 'Revoke device'],
  confirmRevoke: ['Thu hồi thiết bị này? Nó sẽ bị ngắt kết nối ngay.', 'Revoke this device? It is disconnected at once.'],
  alertsTitle: ['Cảnh báo', 'Alerts'],
  since: ['Từ', 'Since'],
  alert_offline: ['Mất kết nối quá lâu', 'Offline too long'],
  alert_disk: ['Ổ đĩa trên 90%', 'Disk over 90%'],
  alert_not_synced: ['Không đồng bộ nội dung 7 ngày', 'Content not synced for 7 days'],
  alert_clock_skew: ['Lệch đồng hồ', 'Clock skew'],
  alert_download_failures: ['Tải xuống lỗi nhiều lần', 'Repeated download failures'],
  alert_manifest_expired: ['Danh mục nội dung hết hạn — ki-ốt giữ nội dung cũ', 'Manifest expired — kiosk keeps its old content'],
  noAlerts: ['Không có cảnh báo.', 'No alerts.'],
  mapTitle: ['Bản đồ điểm (không cần Internet)', 'Site map (no internet needed)'],
  mapNoCoords: ['Chưa có tọa độ — nhóm theo huyện', 'No coordinates — grouped by district'],
  mapUnknownDistrict: ['(không rõ huyện)', '(district unknown)'],
  contentTitle: ['Thư viện nội dung', 'Content library'],
  reviewTitle: ['Chờ duyệt', 'Awaiting approval'],
  title: ['Tiêu đề', 'Title'],
  languages: ['Ngôn ngữ', 'Languages'],
  author: ['Tác giả', 'Author'],
  actions: ['Thao tác', 'Actions'],
  submit: ['Gửi duyệt', 'Submit'],
  approve: ['Duyệt', 'Approve'],
  publish: ['Xuất bản', 'Publish'],
  retire: ['Gỡ bỏ', 'Retire'],
  reject: ['Trả lại', 'Reject'],
  done: ['Xong.', 'Done.'],
  tokensTitle: ['Mã đăng ký thiết bị', 'Device enrollment tokens'],
  siteId: ['Mã điểm', 'Site id'],
  ttlHours: ['Hiệu lực (giờ)', 'Valid for (hours)'],
  count: ['Số lượng', 'Count'],
  create: ['Tạo', 'Create'],
  tokenOnce: ['Mã chỉ hiển thị một lần — hãy in hoặc quét ngay.', 'The token is shown once — print or scan it now.'],
  expires: ['Hết hạn', 'Expires'],
  pairingTitle: ['Nhận thiết bị bằng mã ghép nối', 'Claim a device by its pairing code'],
  pairingCode: ['Mã trên màn hình thiết bị', 'Code on the device screen'],
  claim: ['Nhận', 'Claim'],
  claimed: ['Đã nhận thiết bị {id}.', 'Device {id} claimed.'],
  usersTitle: ['Người dùng', 'Users'],
  role: ['Vai trò', 'Role'],
  addUser: ['Thêm người dùng', 'Add user'],
  auditTitle: ['Nhật ký thao tác', 'Audit log'],
  actor: ['Người thực hiện', 'Actor'],
  action: ['Hành động', 'Action'],
  target: ['Đối tượng', 'Target'],
  detail: ['Chi tiết', 'Detail'],
};

let current = localStorage.getItem('dashboard.lang') === 'en' ? 'en' : 'vi';

export function lang() {
  return current;
}

export function setLang(next) {
  current = next === 'en' ? 'en' : 'vi';
  localStorage.setItem('dashboard.lang', current);
  document.documentElement.lang = current;
}

/** The label in the current language with {name} placeholders filled. */
export function t(key, vars = {}) {
  const entry = LABELS[key];
  const text = entry ? entry[current === 'en' ? 1 : 0] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] === undefined || vars[name] === null ? '—' : String(vars[name])));
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === '') return '—';
  const d = new Date(typeof ms === 'string' && !/^\d+$/.test(ms) ? ms : Number(ms));
  if (Number.isNaN(d.getTime())) return String(ms);
  return d.toLocaleString(current === 'en' ? 'en-GB' : 'vi-VN', {
    timeZone: 'Asia/Ho_Chi_Minh',
    dateStyle: 'short',
    timeStyle: 'short',
  });
}

export function fmtDay(day) {
  if (!day) return '—';
  const [y, m, d] = String(day).split('-');
  return current === 'en' ? `${d}/${m}/${y}` : `${d}/${m}/${y}`;
}

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  return Number(n).toLocaleString(current === 'en' ? 'en-GB' : 'vi-VN', { maximumFractionDigits: digits });
}
