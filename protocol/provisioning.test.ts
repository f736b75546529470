import { describe, expect, it } from 'vitest';
import { CreatedEnrollmentToken, EnrollmentTokensRequest, ImportReport, PairingClaimRequest } from './provisioning.js';

describe('provisioning shapes', () => {
  it('defaults a token request to one kiosk token valid 72 hours, and bounds it', () => {
    expect(EnrollmentTokensRequest.parse({ siteId: 'gl-c-iadom' })).toEqual({
      siteId: 'gl-c-iadom',
      kind: 'kiosk',
      ttlHours: 72,
      count: 1,
    });
    expect(EnrollmentTokensRequest.safeParse({ siteId: 'gl-c-iadom', count: 201 }).success).toBe(false);
    expect(EnrollmentTokensRequest.safeParse({ siteId: 'gl/c', count: 1 }).success).toBe(false);
    expect(EnrollmentTokensRequest.safeParse({ siteId: 'gl-c-iadom', kind: 'toaster' }).success).toBe(false);
  });

  it('checks a created token and an import report', () => {
    const token = {
      id: 'et-0a1b2c3d4e',
      token: 'x'.repeat(32),
      siteId: 'gl-c-iadom',
      kind: 'kiosk',
      expiresAt: '2026-11-26T06:00:00.000Z',
      enrollUrl: 'https://fleet.example.vn/enroll#token=xxx',
      qrSvgUrl: 'https://fleet.example.vn/api/v1/enrollment-tokens/et-0a1b2c3d4e/qr.svg',
      qrPngUrl: 'https://fleet.example.vn/api/v1/enrollment-tokens/et-0a1b2c3d4e/qr.png',
    };
    expect(CreatedEnrollmentToken.parse(token)).toEqual(token);
    const report = {
      applied: true,
      created: 1,
      updated: 0,
      rejected: 1,
      rows: [
        { line: 2, id: 'gl-c-x', action: 'created' },
        { line: 3, id: null, action: 'rejected', reason: 'row has 2 of 8 columns' },
      ],
    };
    expect(ImportReport.parse(report)).toEqual(report);
    expect(ImportReport.safeParse({ ...report, rows: [{ line: 0, id: null, action: 'skipped' }] }).success).toBe(false);
    expect(PairingClaimRequest.safeParse({ code: 'K7MX3Q', siteId: 'gl-c-iao' }).success).toBe(true);
  });
});
