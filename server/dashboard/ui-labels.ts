/**
 * `GET/PUT /api/v1/ui-labels/:lang`: the kiosk interface's labels for the languages nobody on the team writes
 * (Jrai, Bahnar, Xơ Đăng, Giẻ Triêng, Brâu), entered by the department or an editor. Checked against kiosk-ui's
 * label keys and placeholders (protocol/ui-labels.ts), audited, and sent to every kiosk in its signed manifest
 * (`uiLabels`); on the kiosk a missing label shows in Vietnamese.
 */
import { Hono } from 'hono';
import { DEPARTMENT_LABEL_LANGS, UiLabelsOut, UiLabelsPut } from '../../protocol/api.js';
import { LangTag } from '../../protocol/index.js';
import { UI_LABEL_KEYS, UI_LABEL_PLACEHOLDERS } from '../../protocol/ui-labels.js';
import { DomainError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import { bodyLimit } from '../http/body-limit.js';
import type { RouteDeps } from '../http/route-deps.js';
import { json, parseInput } from '../http/validate.js';

const KEYS = UI_LABEL_KEYS.map((key) => ({ key, placeholders: [...UI_LABEL_PLACEHOLDERS[key]] }));

export function uiLabelsRoutes(
  deps: Pick<RouteDeps, 'db' | 'auth' | 'audit' | 'content'> & { now?: () => number },
): Hono<AppEnv> {
  const { db, auth, audit } = deps;
  const now = deps.now ?? Date.now;
  const app = new Hono<AppEnv>();
  const get = db.prepare('SELECT labels, updated_at AS updatedAt, updated_by AS updatedBy FROM ui_labels WHERE lang = ?');
  const put = db.prepare(
    `INSERT INTO ui_labels (lang, labels, updated_at, updated_by) VALUES (?, ?, ?, ?)
     ON CONFLICT (lang) DO UPDATE SET labels = excluded.labels, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
  );

  function read(lang: string) {
    const row = get.get(lang) as { labels: string; updatedAt: number; updatedBy: string } | undefined;
    const labels = row ? (JSON.parse(row.labels) as Record<string, string>) : {};
    return UiLabelsOut.parse({
      lang,
      labels,
      keys: KEYS,
      missing: UI_LABEL_KEYS.filter((k) => !(k in labels)),
      updatedAt: row?.updatedAt ?? null,
      updatedBy: row?.updatedBy ?? null,
    });
  }

  function language(raw: string): string {
    const lang = parseInput(LangTag, raw);
    if (!(DEPARTMENT_LABEL_LANGS as readonly string[]).includes(lang))
      throw new DomainError(
        400,
        'built_in_labels',
        `the interface labels of "${lang}" are built into the kiosk (kiosk-ui/src/i18n.ts); the department enters labels for ${DEPARTMENT_LABEL_LANGS.join(', ')}`,
      );
    return lang;
  }

  app.get('/ui-labels/:lang', auth.requireRole('department', 'editor', 'approver'), (c) =>
    c.json(read(language(c.req.param('lang')))),
  );

  app.put('/ui-labels/:lang', auth.requireRole('department', 'editor'), bodyLimit(64 * 1024), json(UiLabelsPut), (c) => {
    const lang = language(c.req.param('lang'));
    const { labels } = c.req.valid('json');
    const before = read(lang).labels;
    // The whole set is replaced: a key left out is removed (that label shows in Vietnamese again).
    db.transaction(() => put.run(lang, JSON.stringify(labels), now(), c.var.user.username))();
    const changed = UI_LABEL_KEYS.filter((k) => before[k] !== labels[k]);
    audit({ actor: c.var.user.username, action: 'ui_labels.update', target: lang, detail: { changed } });
    const notified = deps.content.distribution.labelsChanged();
    return c.json({ ...read(lang), notified: notified.length });
  });

  return app;
}
