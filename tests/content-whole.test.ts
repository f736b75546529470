/**
 * The content module end to end over HTTP (issue 5, "done when"): an editor uploads a video and a PDF with
 * Vietnamese, Jrai and Khmer titles, an approver publishes, a device's manifest verifies with the protocol's
 * check, the video downloads in three ranged pieces whose concatenation has the right sha256, and retiring the
 * item removes it from the next manifest with a higher seq.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkManifest, type SignedManifest } from '../protocol/index.js';
import { basic, type ContentTestServer, client, sampleFiles, startContentTestServer } from '../server/content/testing.js';

const TITLES = {
  vi: 'Luật Biên giới quốc gia Việt Nam',
  jra: 'Tơlơi phiăn kơ khul čar \u01AF\u0306 ƀơi ñu', // Ư̆ = U+01AF U+0306
  km: 'ច្បាប់ស្តីពីព្រំដែនរដ្ឋ',
} as const;

describe('content module, whole', () => {
  let server: ContentTestServer;
  beforeEach(async () => {
    server = await startContentTestServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('uploads, reviews, publishes, distributes signed, serves ranges, and retires', async () => {
    const editor = client(server.url, `Bearer ${server.addUser('bien.tap', 'editor')}`);
    const approver = client(server.url, `Bearer ${server.addUser('phe.duyet', 'approver')}`);
    const deviceId = 'kiosk-ia-dom-1';
    const device = client(server.url, basic(deviceId, server.addDevice(deviceId, 'c-ia-dom')));

    const video = sampleFiles.mp4(3 * 1024 * 1024 + 17);
    const videoSha = createHash('sha256').update(video).digest('hex');

    async function item(kind: string, files: (lang: keyof typeof TITLES) => Buffer, mime: string): Promise<string> {
      const res = await editor('POST', '/api/v1/content', {
        kind,
        topics: ['border-sovereignty-law'],
        targets: [{ scope: 'site', siteId: 'd-duc-co' }],
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      for (const lang of Object.keys(TITLES) as Array<keyof typeof TITLES>) {
        expect(
          (await editor('PUT', `/api/v1/content/${id}/translations/${lang}`, { title: TITLES[lang], summary: TITLES[lang] }))
            .status,
        ).toBe(200);
        const up = await editor('PUT', `/api/v1/content/${id}/translations/${lang}/file`, files(lang), { 'content-type': mime });
        expect(up.status).toBe(201);
      }
      expect((await editor('POST', `/api/v1/content/${id}/submit`)).status).toBe(200);
      expect((await approver('POST', `/api/v1/content/${id}/approve`)).status).toBe(200);
      expect((await approver('POST', `/api/v1/content/${id}/publish`)).status).toBe(200);
      return id;
    }
    const videoId = await item('video', () => video, 'video/mp4');
    const pdfId = await item('document', (lang) => sampleFiles.pdf(TITLES[lang]), 'application/pdf');

    // The device was told, and its manifest verifies under the pinned key.
    expect(server.notices.filter((n) => n.deviceId === deviceId).length).toBeGreaterThan(0);
    const res = await device('GET', `/api/v1/devices/${deviceId}/manifest`);
    expect(res.status).toBe(200);
    const signed = (await res.json()) as SignedManifest;
    const check = checkManifest(signed, { publicKey: server.keys.publicKeyPem, deviceId, appliedSeq: 0 });
    expect(check.ok).toBe(true);
    expect(signed.keyId).toBe(server.keys.keyId);
    const first = signed.manifest;
    expect(first.items.map((i) => i.id).sort()).toEqual([videoId, pdfId].sort());
    for (const it of first.items) {
      for (const lang of Object.keys(TITLES) as Array<keyof typeof TITLES>)
        expect(it.translations[lang]?.title).toBe(TITLES[lang]);
    }
    const videoItem = first.items.find((i) => i.id === videoId);
    expect(videoItem?.translations.vi?.file).toEqual({ sha256: videoSha, size: video.length, mime: 'video/mp4' });

    // A tampered manifest does not verify.
    const tampered = structuredClone(signed);
    const vi = tampered.manifest.items[0]?.translations.vi;
    if (vi) vi.title = 'Giả mạo';
    expect(checkManifest(tampered, { publicKey: server.keys.publicKeyPem, deviceId, appliedSeq: 0 })).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });

    // Three ranged pieces, as an agent resuming twice would fetch them.
    const third = Math.floor(video.length / 3);
    const ranges = [`bytes=0-${third - 1}`, `bytes=${third}-${2 * third - 1}`, `bytes=${2 * third}-`];
    const pieces: Buffer[] = [];
    for (const range of ranges) {
      const piece = await device('GET', `/files/${videoSha}`, undefined, { range });
      expect(piece.status).toBe(206);
      expect(piece.headers.get('etag')).toBe(`"${videoSha}"`);
      pieces.push(Buffer.from(await piece.arrayBuffer()));
    }
    const whole = Buffer.concat(pieces);
    expect(whole.length).toBe(video.length);
    expect(createHash('sha256').update(whole).digest('hex')).toBe(videoSha);

    // Retire the video: the next manifest has a higher seq and no video; the device is told; the file is closed to it.
    const noticesBefore = server.notices.length;
    expect((await approver('POST', `/api/v1/content/${videoId}/retire`)).status).toBe(200);
    const notice = server.notices.slice(noticesBefore).find((n) => n.deviceId === deviceId);
    expect(notice?.seq).toBeGreaterThan(first.seq);
    const next = (await (await device('GET', `/api/v1/devices/${deviceId}/manifest`)).json()) as SignedManifest;
    const nextCheck = checkManifest(next, { publicKey: server.keys.publicKeyPem, deviceId, appliedSeq: first.seq });
    expect(nextCheck.ok).toBe(true);
    expect(next.manifest.seq).toBe(notice?.seq);
    expect(next.manifest.items.map((i) => i.id)).toEqual([pdfId]);
    expect((await device('GET', `/files/${videoSha}`)).status).toBe(403);
    // Every step is in the audit log.
    const actions = server.db.prepare('SELECT action FROM audit WHERE target = ? ORDER BY id').all(videoId) as Array<{
      action: string;
    }>;
    expect(actions.map((a) => a.action)).toEqual([
      'content.create',
      ...Array(3).fill(['content.translation', 'content.file']).flat(),
      'content.submit',
      'content.approve',
      'content.publish',
      'content.retire',
    ]);
  });
});
