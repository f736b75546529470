import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { addressKey, parseTrustedProxies, TrustedProxies } from './client-address.js';

describe('client address', () => {
  it('ignores X-Forwarded-For unless the socket peer is a trusted proxy', () => {
    expect(new TrustedProxies([]).clientAddress('203.0.113.9', '10.9.9.9')).toBe('203.0.113.9');
    const proxies = new TrustedProxies(parseTrustedProxies('127.0.0.1, 10.0.0.0/8'));
    expect(proxies.clientAddress('203.0.113.9', '10.9.9.9')).toBe('203.0.113.9');
    expect(proxies.clientAddress('127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(proxies.clientAddress('::ffff:127.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('takes the right-most hop that is not a trusted proxy (left of it the client writes what it likes)', () => {
    const proxies = new TrustedProxies(parseTrustedProxies(['127.0.0.1', '10.0.0.0/8', '2001:db8:ffff::/48']));
    expect(proxies.clientAddress('127.0.0.1', '1.1.1.1, 198.51.100.7, 10.1.2.3')).toBe('198.51.100.7');
    expect(proxies.clientAddress('127.0.0.1', '198.51.100.7:4711')).toBe('198.51.100.7');
    expect(proxies.clientAddress('127.0.0.1', '[2001:db8::5]:443, 2001:db8:ffff::1')).toBe('2001:db8::5');
    // A hop that is not an address stops the walk at the proxy that forwarded it.
    expect(proxies.clientAddress('127.0.0.1', '198.51.100.7, junk, 10.1.2.3')).toBe('10.1.2.3');
    // Every hop trusted: the left-most is the best known.
    expect(proxies.clientAddress('127.0.0.1', '10.0.0.1, 10.0.0.2')).toBe('10.0.0.1');
  });

  it('counts IPv6 clients by their /64, IPv4 ones (also mapped) alone', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('reads TRUSTED_PROXIES from the environment (comma list) or a file (array); a bad entry is a clear error', () => {
    expect(loadConfig({}).TRUSTED_PROXIES).toEqual([]);
    expect(loadConfig({ TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8 ,::1' }).TRUSTED_PROXIES).toEqual([
      '127.0.0.1/32',
      '10.0.0.0/8',
      '::1/128',
    ]);
    expect(() => loadConfig({ TRUSTED_PROXIES: 'proxy.example' })).toThrow(
      /TRUSTED_PROXIES: not an IP address or CIDR: "proxy.example"/,
    );
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/TRUSTED_PROXIES: bad prefix length/);
  });
});
