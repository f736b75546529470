/**
 * HTTP of the content library (`/api/v1/content…`) and the device-facing manifest and sync views.
 * Editors write, approvers approve, publish and retire; the department reads. Mount at `/`.
 */
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import { Day, Id } from '../../protocol/index.js';
import { DomainError } from '../errors.js';
import type { AppEnv } from '../http/app-env.js';
import { bodyLimit, streamedBodyLimit } from '../http/body-limit.js';
import { json, parseInput as parse, query } from '../http/validate.js';
import { badRequest, forbidden, notFound, tooLarge, typeMismatch } from './errors.js';
import type { ContentAuth } from './http-support.js';
import { contentDiff, contentHolders, getFile, getItem, getItemRow, listItems, listTopics, readTargets } from './library-repo.js';
import { CreateItem, Lang, ListQuery, RejectBody, TranslationInput, UpdateItem } from './library-schemas.js';
import { declaredMatches } from './mime.js';
import { fileResponse } from './serve-file.js';
import type { ContentServices } from './services.js';
import { deviceSync, itemStats } from './stats-repo.js';

const RESERVED_IDS = new Set(['topics', 'files']);
const Sha = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
const StatsQuery = z.object({ from: Day.optional(), to: Day.optional() });
/** An item's fields with up to 500 targets. */
const ITEM_BODY_LIMIT_BYTES = 256 * 1024;
/** A translation's text: a body of up to LIMITS.maxBodyChars characters, JSON-escaped at worst 6 bytes each. */
const TRANSLATION_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

export function createContentRoutes(deps: ContentServices & { auth: ContentAuth }): Hono<AppEnv> {
  const { db, store, workflow, distribution, auth } = deps;
  const app = new Hono<AppEnv>();
  const read = auth.requireRole('department', 'editor', 'approver');
  const edit = auth.requireRole('editor');
  const review = auth.requireRole('approver');
  const itemId = (id: string) => {
    const parsed = parse(Id, id);
    if (!getItemRow(db, parsed)) throw notFound(`content item ${parsed}`);
    return parsed;
  };

  app.get('/api/v1/content/topics', read, (c) => c.json({ topics: listTopics(db) }));

  app.get('/api/v1/content', read, query(ListQuery), (c) => c.json(listItems(db, c.req.valid('query'))));

  app.post('/api/v1/content', edit, bodyLimit(ITEM_BODY_LIMIT_BYTES), json(CreateItem), (c) => {
    const input = c.req.valid('json');
    if (input.id && RESERVED_IDS.has(input.id)) throw badRequest(`${input.id} is reserved`);
    const id = workflow.create(c.var.user, input);
    return c.json(getItem(db, id), 201);
  });

  app.get('/api/v1/content/files/:sha256', read, async (c) => {
    const file = getFile(db, parse(Sha, c.req.param('sha256')));
    if (!file) throw notFound('file');
    return fileResponse(store, file, c.req.raw);
  });

  app.get('/api/v1/content/:id', read, (c) => c.json(getItem(db, itemId(c.req.param('id')))));

  app.patch('/api/v1/content/:id', edit, bodyLimit(ITEM_BODY_LIMIT_BYTES), json(UpdateItem), (c) => {
    const id = itemId(c.req.param('id'));
    workflow.update(c.var.user, id, c.req.valid('json'));
    return c.json(getItem(db, id));
  });

  app.put(
    '/api/v1/content/:id/translations/:lang',
    edit,
    bodyLimit(TRANSLATION_BODY_LIMIT_BYTES),
    json(TranslationInput),
    (c) => {
      const id = itemId(c.req.param('id'));
      const lang = parse(Lang, c.req.param('lang'));
      workflow.putTranslation(c.var.user, id, lang, c.req.valid('json'));
      return c.json(getItem(db, id));
    },
  );

  app.delete('/api/v1/content/:id/translations/:lang', edit, (c) => {
    const id = itemId(c.req.param('id'));
    workflow.removeTranslation(c.var.user, id, parse(Lang, c.req.param('lang')));
    return c.json(getItem(db, id));
  });

  // The body is the file itself, streamed to disk: multipart would have to be parsed (and, with Hono's
  // parseBody, buffered in memory) for no gain. A declared length over the limit is refused before the
  // first byte; the store counts the bytes it streams and stops at the limit.
  const uploadLimit = streamedBodyLimit(deps.maxUploadBytes, tooLarge);
  app.put('/api/v1/content/:id/translations/:lang/file', edit, uploadLimit, async (c) => {
    const id = itemId(c.req.param('id'));
    const lang = parse(Lang, c.req.param('lang'));
    const item = workflow.checkFileTarget(id, lang);
    // Under @hono/node-server the Node request itself is the cheapest stream (no web-stream round trip);
    // elsewhere the standard body stream does the same job.
    const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
    const body = incoming instanceof Readable ? incoming : c.req.raw.body;
    if (!body) throw badRequest('the body must be the file');
    const declared = c.req.header('content-type');
    const kindCheck = workflow.fileCheck(item);
    const file = await store
      .put(body, {
        check: (mime) => {
          if (!declaredMatches(declared, mime)) throw typeMismatch(`declared ${declared} but the bytes are ${mime}`);
          kindCheck(mime);
        },
      })
      .catch((error: unknown) => {
        // A client that went away is not a server fault: nothing was stored, say so and move on.
        if (error instanceof DomainError) throw error;
        if ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || c.req.raw.signal.aborted) {
          throw new DomainError(400, 'upload_aborted', 'the upload was cut off before its end; nothing was stored');
        }
        throw error;
      });
    const version = workflow.attachFile(c.var.user, id, lang, file);
    return c.json({ file, version, item: getItem(db, id) }, 201);
  });

  app.post('/api/v1/content/:id/submit', edit, (c) => {
    const id = itemId(c.req.param('id'));
    workflow.submit(c.var.user, id);
    return c.json(getItem(db, id));
  });

  app.post('/api/v1/content/:id/approve', review, (c) => {
    const id = itemId(c.req.param('id'));
    workflow.approve(c.var.user, id);
    return c.json(getItem(db, id));
  });

  app.post('/api/v1/content/:id/reject', review, json(RejectBody), (c) => {
    const id = itemId(c.req.param('id'));
    const { reason } = c.req.valid('json');
    workflow.reject(c.var.user, id, reason);
    return c.json(getItem(db, id));
  });

  // What an approver reads before approving: the latest version against the published one.
  app.get('/api/v1/content/:id/diff', read, (c) => c.json(contentDiff(db, itemId(c.req.param('id')))));

  // The devices the published version is meant for (the latest's, while nothing is published) and their state.
  app.get('/api/v1/content/:id/holders', read, (c) => {
    const id = itemId(c.req.param('id'));
    const item = getItemRow(db, id);
    const version = item?.published_version ?? item?.latest_version ?? 0;
    return c.json(contentHolders(db, id, distribution.targetedDevices(readTargets(db, id, version))));
  });

  app.post('/api/v1/content/:id/publish', review, (c) => {
    const id = itemId(c.req.param('id'));
    const { previous, version } = workflow.publish(c.var.user, id);
    const notified = distribution.contentChanged(id, [previous, version]);
    return c.json({ item: getItem(db, id), notified });
  });

  app.post('/api/v1/content/:id/retire', review, (c) => {
    const id = itemId(c.req.param('id'));
    const { previous } = workflow.retire(c.var.user, id);
    const notified = distribution.contentChanged(id, [previous]);
    return c.json({ item: getItem(db, id), notified });
  });

  app.get('/api/v1/content/:id/stats', read, query(StatsQuery), (c) => {
    const id = itemId(c.req.param('id'));
    return c.json({ itemId: id, days: itemStats(db, id, c.req.valid('query')) });
  });

  app.get('/api/v1/devices/:id/manifest', auth.requireDevice(), (c) => {
    const device = c.var.device;
    if (c.req.param('id') !== device.id) throw forbidden('a device may read only its own manifest');
    const issued = distribution.issue({ deviceId: device.id, siteId: device.siteId });
    c.header('ETag', issued.etag);
    c.header('Cache-Control', 'no-cache');
    const ifNoneMatch = c.req.header('if-none-match');
    if (ifNoneMatch?.split(',').some((tag) => tag.trim() === issued.etag)) return c.body(null, 304);
    return c.json(issued.signed);
  });

  app.get('/api/v1/devices/:id/sync', read, (c) => {
    const view = deviceSync(db, parse(Id, c.req.param('id')));
    if (!view) throw notFound(`device ${c.req.param('id')}`);
    return c.json(view);
  });

  return app;
}
