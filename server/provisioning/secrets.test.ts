import { describe, expect, it } from 'vitest';
import { hashToken, newPairingCode, newToken, normalizePairingCode, PAIRING_ALPHABET } from './secrets.js';

describe('secrets', () => {
  it('makes unambiguous 6-character pairing codes and accepts them typed loosely', () => {
    for (let i = 0; i < 200; i++) expect(newPairingCode()).toMatch(/^[A-HJKMNP-Z2-9]{6}$/);
    expect(PAIRING_ALPHABET).not.toMatch(/[01OIL]/);
    expect(normalizePairingCode(' k7m-x3q ')).toBe('K7MX3Q');
  });

  it('makes 192-bit tokens and hashes them to hex', () => {
    const token = newToken();
    expect(Buffer.from(token, 'base64url')).toHaveLength(24);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(newToken()).not.toBe(token);
  });

  it('makes no token a command line would read as an option (a leading dash)', () => {
    // base64url starts with '-' once in 64: 5 000 tokens without one are certain to fail on the old code.
    const tokens = Array.from({ length: 5000 }, newToken);
    expect(tokens.filter((t) => t.startsWith('-'))).toEqual([]);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
