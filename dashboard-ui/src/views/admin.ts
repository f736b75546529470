/** Enrollment tokens with their QR codes, pairing-code claim, people (users, their API tokens) and the audit log. */
import type { PasswordReset, UserOut, UserTokens } from '../../../protocol/api.js';
import { DEVICE_KINDS, ROLES } from '../../../protocol/constants.js';
import type { Role } from '../../../protocol/domain.js';
import { api } from '../api.js';
import { enumLabel, fmtBytes, fmtNumber, fmtTime, t } from '../i18n.js';
import type { AuditEntry, EnrollmentTokenOut } from '../shapes.js';
import { badge, type Child, card, errorBox, fill, h, hashParams, qs, table } from '../ui.js';

interface Field {
  name: string;
  label: string;
  type?: string;
  value?: string | number;
  required?: boolean;
  min?: number;
  options?: readonly { value: string; label: string }[];
}

/** Posts a form's fields as JSON; numbers stay numbers. */
function jsonForm(
  fields: Field[],
  submitLabel: string,
  onSubmit: (body: Record<string, unknown>) => Promise<Child>,
): HTMLElement[] {
  const result = h('div', {});
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault();
        const body: Record<string, unknown> = {};
        const data = new FormData(form);
        for (const f of fields) {
          const value = String(data.get(f.name) ?? '');
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
              f.options.map((o) => h('option', { value: o.value }, o.label)),
            )
          : h('input', { name: f.name, type: f.type ?? 'text', value: f.value ?? '', required: f.required, min: f.min }),
      ),
    ),
    h('button', { class: 'primary', type: 'submit' }, submitLabel),
  );
  return [form, result];
}

/** The QR picture from this server (same origin, with the session): qrSvgUrl is built from PUBLIC_URL. */
function qrPath(tok: EnrollmentTokenOut): string {
  if (!tok.qrSvgUrl) return `/api/v1/enrollment-tokens/${encodeURIComponent(tok.id)}/qr.svg`;
  const url = new URL(tok.qrSvgUrl, location.href);
  return `${url.pathname}${url.search}`;
}

const kindOptions = DEVICE_KINDS.map((k) => ({ value: k, label: k }));
const roleOptions = ROLES.map((r) => ({ value: r, label: enumLabel('role', r) }));

export function renderTokens(main: HTMLElement): void {
  const site = hashParams().get('site') ?? '';
  const form = jsonForm(
    [
      { name: 'siteId', label: t('siteId'), value: site, required: true },
      { name: 'kind', label: t('kind'), options: kindOptions },
      { name: 'ttlHours', label: t('ttlHours'), type: 'number', value: 72, min: 1 },
      { name: 'count', label: t('count'), type: 'number', value: 1, min: 1 },
    ],
    t('create'),
    async (body) => {
      const data = await api<{ tokens: EnrollmentTokenOut[] }>('/api/v1/enrollment-tokens', { method: 'POST', body });
      return [
        h('p', { class: 'warn' }, t('tokenOnce')),
        h(
          'div',
          { class: 'charts', id: 'tokens' },
          data.tokens.map((tok) =>
            h(
              'figure',
              { class: 'card qr', style: 'margin:0' },
              h('img', { src: qrPath(tok), alt: 'QR', width: 160, height: 160 }),
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

export function renderPairing(main: HTMLElement): void {
  const form = jsonForm(
    [
      { name: 'code', label: t('pairingCode'), required: true },
      { name: 'siteId', label: t('siteId'), required: true },
      { name: 'kind', label: t('kind'), options: kindOptions },
    ],
    t('claim'),
    async (body) => {
      const data = await api<{ deviceId: string }>('/api/v1/pairing/claim', {
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

const userPath = (u: UserOut) => `/api/v1/users/${encodeURIComponent(u.username)}`;

function userActions(u: UserOut, status: HTMLElement, reload: () => void): HTMLElement {
  const run = async (action: () => Promise<Child>) => {
    try {
      fill(status, await action());
      reload();
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  };
  const role = h(
    'select',
    { name: 'role', dataset: { user: u.username }, 'aria-label': t('changeRole') },
    ROLES.map((r) => h('option', { value: r, selected: r === u.role }, enumLabel('role', r))),
  );
  role.addEventListener('change', () =>
    run(async () => {
      await api(userPath(u), { method: 'PATCH', body: { role: role.value as Role } });
      return h('p', { class: 'ok' }, t('done'));
    }),
  );
  return h(
    'div',
    { class: 'inline' },
    role,
    h(
      'button',
      {
        type: 'button',
        dataset: { action: u.disabled ? 'enable' : 'disable', user: u.username },
        onclick: () =>
          run(async () => {
            await api(userPath(u), { method: 'PATCH', body: { disabled: !u.disabled } });
            return h('p', { class: 'ok' }, t('done'));
          }),
      },
      u.disabled ? t('enable') : t('disable'),
    ),
    h(
      'button',
      {
        type: 'button',
        dataset: { action: 'reset', user: u.username },
        onclick: () =>
          run(async () => {
            const reset = await api<PasswordReset>(`${userPath(u)}/reset-password`, { method: 'POST', body: {} });
            return h('p', { class: 'once', id: 'one-time-password' }, t('oneTimePassword', { p: reset.password }));
          }),
      },
      t('resetPassword'),
    ),
    h('a', { href: `#/user/${encodeURIComponent(u.username)}` }, t('apiTokens')),
  );
}

/** GET /api/v1/backups (server/backup/schedule.ts, BackupStatus). */
type BackupsStatus =
  | { configured: false }
  | {
      configured: true;
      intervalMs: number;
      running: boolean;
      lastSuccess: { finishedAt: string; bytesWritten: number | null } | null;
      lastFailure: { at: string; error: string } | null;
      nextAt: string | null;
      backups: string[];
    };

function fmtDuration(ms: number): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  if (min < 120) return t('durationMinutes', { n: min });
  if (min < 48 * 60) return t('durationHours', { n: fmtNumber(min / 60, 1) });
  return t('durationDays', { n: fmtNumber(min / 1440, 1) });
}

/** The last backup: time, result, size, age; marked as a warning when it failed or is older than 2 × BACKUP_INTERVAL. */
export function backupCard(now = Date.now()): HTMLElement {
  const el = card(t('backupTitle'), async () => {
    const b = await api<BackupsStatus>('/api/v1/backups');
    if (!b.configured) {
      el.classList.add('backup-warning');
      el.style.border = '2px solid var(--warn)';
      el.dataset.backupState = 'off';
      return h('p', { class: 'warn', id: 'backup-result' }, t('backupNotConfigured'));
    }
    const lastOk = b.lastSuccess ? Date.parse(b.lastSuccess.finishedAt) : null;
    const failed = b.lastFailure !== null && (lastOk === null || Date.parse(b.lastFailure.at) > lastOk);
    const age = lastOk === null ? null : now - lastOk;
    const old = age === null || age > 2 * b.intervalMs;
    const size = b.lastSuccess?.bytesWritten ?? null;
    const warning = failed || old;
    el.classList.toggle('backup-warning', warning);
    el.style.border = warning ? `2px solid var(${failed ? '--bad' : '--warn'})` : '';
    el.dataset.backupState = failed ? 'failed' : old ? 'old' : 'ok';
    const result = failed
      ? h('span', { class: 'bad' }, t('backupFailed', { at: fmtTime(b.lastFailure?.at), error: b.lastFailure?.error }))
      : lastOk === null
        ? h('span', { class: 'warn' }, t('backupNone'))
        : h(
            'span',
            { class: old ? 'warn' : 'ok' },
            old ? t('backupOld', { interval: fmtDuration(b.intervalMs) }) : t('backupOk'),
          );
    const row = (label: string, value: Child, id: string) => [h('dt', {}, label), h('dd', { id }, value)];
    return h(
      'dl',
      { class: 'kv' },
      row(t('backupLast'), fmtTime(b.lastSuccess?.finishedAt), 'backup-last'),
      row(t('backupResult'), [result, b.running ? ` · ${t('backupRunning')}` : ''], 'backup-result'),
      row(t('backupSize'), size === null ? '—' : fmtBytes(size), 'backup-size'),
      row(t('backupAge'), age === null ? '—' : h('span', { class: old ? 'warn' : '' }, fmtDuration(age)), 'backup-age'),
      row(t('backupNext'), fmtTime(b.nextAt), 'backup-next'),
      row(t('backupKept'), String(b.backups.length), 'backup-kept'),
    );
  });
  el.id = 'backup';
  return el;
}

export function renderUsers(main: HTMLElement): void {
  const status = h('div', { id: 'user-status' });
  const list = h('div', {});
  const reload = () => {
    api<{ users: UserOut[] }>('/api/v1/users').then(
      ({ users }) =>
        fill(
          list,
          table<UserOut>(
            [
              { label: t('username'), cell: (u) => u.username },
              { label: t('role'), cell: (u) => enumLabel('role', u.role) },
              {
                label: t('status'),
                cell: (u) => (u.disabled ? badge('none', t('disabled')) : badge('operational', t('active'))),
              },
              { label: t('created'), cell: (u) => fmtTime(u.createdAt) },
              { label: t('actions'), cell: (u) => userActions(u, status, reload) },
            ],
            users,
          ),
        ),
      (error: unknown) => list.replaceChildren(errorBox(error)),
    );
  };
  reload();
  const form = jsonForm(
    [
      { name: 'username', label: t('username'), required: true },
      { name: 'role', label: t('role'), options: roleOptions },
      { name: 'password', label: t('password'), type: 'password' },
    ],
    t('addUser'),
    async (body) => {
      const data = await api<{ user: UserOut; password?: string }>('/api/v1/users', { method: 'POST', body });
      reload();
      return h(
        'p',
        { class: data.password ? 'once' : 'ok' },
        data.password ? t('oneTimePassword', { p: data.password }) : `${data.user.username} — ${t('done')}`,
      );
    },
  );
  fill(
    main,
    h('h1', {}, t('usersTitle')),
    backupCard(),
    h('section', { class: 'card' }, h('h2', {}, t('addUser')), form),
    status,
    h('section', { class: 'card' }, list),
  );
}

/** One person's API tokens, listed and revoked by an admin. */
export async function renderUser(main: HTMLElement, username = ''): Promise<void> {
  const status = h('div', {});
  const list = h('div', {});
  const base = `/api/v1/users/${encodeURIComponent(username)}/tokens`;
  const reload = async () => {
    const data = await api<UserTokens>(base);
    fill(
      list,
      data.tokens.length === 0
        ? h('p', { class: 'muted' }, t('noTokens'))
        : table(
            [
              { label: t('tokenName'), cell: (k) => k.name },
              { label: t('created'), cell: (k) => fmtTime(k.createdAt) },
              { label: t('expires'), cell: (k) => fmtTime(k.expiresAt) },
              { label: t('lastUsed'), cell: (k) => fmtTime(k.lastUsedAt) },
              {
                label: t('actions'),
                cell: (k) =>
                  k.revokedAt
                    ? `${t('revokedAt')} ${fmtTime(k.revokedAt)}`
                    : h(
                        'button',
                        {
                          type: 'button',
                          dataset: { token: k.id },
                          onclick: async () => {
                            try {
                              await api(`${base}/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
                              status.replaceChildren(h('p', { class: 'ok' }, t('done')));
                              await reload();
                            } catch (error) {
                              status.replaceChildren(errorBox(error));
                            }
                          },
                        },
                        t('revokeToken'),
                      ),
              },
            ],
            data.tokens,
          ),
    );
  };
  await reload();
  fill(main, h('h1', {}, `${t('apiTokens')}: ${username}`), status, h('section', { class: 'card' }, list));
}

export function renderAudit(main: HTMLElement): void {
  const before = hashParams().get('before') ?? '';
  fill(
    main,
    h('h1', {}, t('auditTitle')),
    card(null, async () => {
      const { entries } = await api<{ entries: AuditEntry[] }>(`/api/v1/audit${qs({ limit: 100, before })}`);
      const last = entries[entries.length - 1];
      return [
        table<AuditEntry>(
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
        entries.length === 100 && last ? h('a', { href: `#/audit?before=${last.id}` }, t('next')) : null,
      ];
    }),
  );
}
