// Enrollment tokens with their QR codes, pairing-code claim, users and the audit log.
import { api, listOf } from './api.js';
import { fmtTime, t } from './i18n.js';
import { card, errorBox, fill, h, qs, table } from './ui.js';

const ROLES = ['admin', 'department', 'editor', 'approver', 'technician'];
const KINDS = ['kiosk', 'display', 'pc', 'speaker', 'other'];

/** Posts a form's fields as JSON; numbers stay numbers. */
function jsonForm(fields, submitLabel, onSubmit) {
  const result = h('div', {});
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault();
        const body = {};
        for (const f of fields) {
          const value = form.elements[f.name].value;
          if (value === '') continue;
          body[f.name] = f.type === 'number' ? Number(value) : value;
        }
        result.replaceChildren(h('p', { class: 'muted' }, t('loading')));
        try {
          fill(result, await onSubmit(body));
        } catch (error) {
          result.replaceChildren(errorBox(error));
        }
      },
    },
    fields.map((f) =>
      h(
        'label',
        {},
        f.label,
        f.options
          ? h(
              'select',
              { name: f.name },
              f.options.map((o) => h('option', { value: o }, o)),
            )
          : h('input', { name: f.name, type: f.type ?? 'text', value: f.value ?? '', required: f.required, min: f.min }),
      ),
    ),
    h('button', { class: 'primary', type: 'submit' }, submitLabel),
  );
  return [form, result];
}

/**
 * The QR picture from this server (same origin, with the session): qrSvgUrl is built from PUBLIC_URL, which
 * is what devices reach and not always what the department's browser reaches.
 */
function qrPath(tok) {
  const fallback = `/api/v1/enrollment-tokens/${encodeURIComponent(tok.id)}/qr.svg`;
  if (!tok.qrSvgUrl) return fallback;
  const url = new URL(tok.qrSvgUrl, location.href);
  return `${url.pathname}${url.search}`;
}

export function renderTokens(main) {
  const site = new URLSearchParams(location.hash.split('?')[1] ?? '').get('site') ?? '';
  const form = jsonForm(
    [
      { name: 'siteId', label: t('siteId'), value: site, required: true },
      { name: 'kind', label: t('kind'), options: KINDS },
      { name: 'ttlHours', label: t('ttlHours'), type: 'number', value: 72, min: 1 },
      { name: 'count', label: t('count'), type: 'number', value: 1, min: 1 },
    ],
    t('create'),
    async (body) => {
      const data = await api('/api/v1/enrollment-tokens', { method: 'POST', body });
      return [
        h('p', { class: 'warn' }, t('tokenOnce')),
        h(
          'div',
          { class: 'charts', id: 'tokens' },
          listOf(data, 'tokens').map((tok) =>
            h(
              'figure',
              { class: 'card qr', style: 'margin:0' },
              h('img', {
                src: qrPath(tok),
                alt: 'QR',
                width: 160,
                height: 160,
              }),
              h(
                'figcaption',
                {},
                h('div', { class: 'mono' }, tok.token),
                h('div', { class: 'muted' }, `${tok.siteId} · ${t('expires')} ${fmtTime(tok.expiresAt)}`),
              ),
            ),
          ),
        ),
      ];
    },
  );
  fill(main, h('h1', {}, t('tokensTitle')), h('section', { class: 'card' }, form));
}

export function renderPairing(main) {
  const form = jsonForm(
    [
      { name: 'code', label: t('pairingCode'), required: true },
      { name: 'siteId', label: t('siteId'), required: true },
      { name: 'kind', label: t('kind'), options: KINDS },
    ],
    t('claim'),
    async (body) => {
      const data = await api('/api/v1/pairing/claim', {
        method: 'POST',
        body: { ...body, code: String(body.code).trim().toUpperCase() },
      });
      return h(
        'p',
        { class: 'ok' },
        t('claimed', { id: data.deviceId }),
        ' ',
        h('a', { href: `#/device/${encodeURIComponent(data.deviceId)}` }, '→'),
      );
    },
  );
  fill(main, h('h1', {}, t('pairingTitle')), h('section', { class: 'card' }, form));
}

export function renderUsers(main) {
  const list = card(null, async () =>
    table(
      [
        { label: t('username'), cell: (u) => u.username },
        { label: t('role'), cell: (u) => u.role },
        { label: t('status'), cell: (u) => (u.disabled ? '✗' : '✓') },
        { label: t('created'), cell: (u) => fmtTime(u.createdAt) },
      ],
      listOf(await api('/api/v1/users'), 'users'),
    ),
  );
  const form = jsonForm(
    [
      { name: 'username', label: t('username'), required: true },
      { name: 'role', label: t('role'), options: ROLES },
      { name: 'password', label: t('password'), type: 'password' },
    ],
    t('addUser'),
    async (body) => {
      const data = await api('/api/v1/users', { method: 'POST', body });
      setTimeout(() => renderUsers(main), 0);
      return h(
        'p',
        { class: 'ok' },
        `${data.user?.username ?? ''} ${data.password ? `— ${t('password')}: ${data.password}` : ''}`,
      );
    },
  );
  fill(main, h('h1', {}, t('usersTitle')), h('section', { class: 'card' }, h('h2', {}, t('addUser')), form), list);
}

export function renderAudit(main) {
  const before = new URLSearchParams(location.hash.split('?')[1] ?? '').get('before') ?? '';
  fill(
    main,
    h('h1', {}, t('auditTitle')),
    card(null, async () => {
      const entries = listOf(await api(`/api/v1/audit${qs({ limit: 100, before })}`), 'entries');
      const last = entries[entries.length - 1];
      return [
        table(
          [
            { label: t('time'), cell: (e) => fmtTime(e.ts) },
            { label: t('actor'), cell: (e) => e.actor },
            { label: t('action'), cell: (e) => e.action },
            { label: t('target'), cell: (e) => e.target ?? '—' },
            {
              label: t('detail'),
              cell: (e) =>
                e.detail === null || e.detail === undefined
                  ? ''
                  : typeof e.detail === 'string'
                    ? e.detail
                    : JSON.stringify(e.detail),
            },
          ],
          entries,
        ),
        entries.length === 100 && last?.id ? h('a', { href: `#/audit?before=${last.id}` }, t('next')) : null,
      ];
    }),
  );
}
