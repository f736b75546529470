/**
 * The real client address of an HTTP request. `X-Forwarded-For` is believed only when the socket peer is one of
 * `TRUSTED_PROXIES`; then its hops are read from the right and the first one that is not a trusted proxy is the
 * client (the hops further left were written by whoever the client is, so they prove nothing).
 */
import { BlockList, isIP } from 'node:net';

/** `192.0.2.7`, `10.0.0.0/8`, `::1`, `2001:db8::/32` → canonical `address/prefix`; throws a readable error. */
export function parseTrustedProxy(entry: string): string {
  const text = entry.trim();
  const [rawAddress = '', prefixText, extra] = text.split('/');
  const address = unmapIPv4(rawAddress);
  const family = isIP(address);
  if (family === 0 || extra !== undefined) {
    throw new Error(`not an IP address or CIDR: ${JSON.stringify(entry)} (use e.g. 10.0.0.5, 10.0.0.0/8, ::1)`);
  }
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new Error(`bad prefix length in ${JSON.stringify(entry)} (0–${max})`);
  return `${address}/${prefix}`;
}

/** A comma-separated list (environment) or an array (config file) → canonical entries; `''` = none. */
export function parseTrustedProxies(value: string | readonly string[]): string[] {
  const entries = typeof value === 'string' ? value.split(',') : [...value];
  return entries.filter((entry) => entry.trim() !== '').map(parseTrustedProxy);
}

/** `::ffff:192.0.2.7` (an IPv4 peer on a dual-stack socket) → `192.0.2.7`; anything else unchanged. */
function unmapIPv4(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? (match[1] as string) : address;
}

/** One `X-Forwarded-For` hop → a bare address (drops `[…]` and `:port`), or null when it is not an IP. */
function hopAddress(hop: string): string | null {
  let text = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1] as string;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  text = unmapIPv4(text);
  return isIP(text) === 0 ? null : text;
}

export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  /** `entries` as produced by `parseTrustedProxies` (the config's `TRUSTED_PROXIES`). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, prefix] = parseTrustedProxy(entry).split('/') as [string, string];
      this.list.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    const bare = unmapIPv4(address);
    const family = isIP(bare);
    return family !== 0 && this.list.check(bare, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address given the socket peer and the `X-Forwarded-For` header (if any). A hop that is not an
   * address stops the walk at the trusted proxy that forwarded it.
   */
  clientAddress(peer: string, forwardedFor: string | undefined): string {
    let client = unmapIPv4(peer);
    if (this.size === 0 || !forwardedFor || !this.has(client)) return client;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hopAddress(hops[i] as string);
      if (hop === null) return client;
      client = hop;
      if (!this.has(client)) return client;
    }
    return client; // every hop is a trusted proxy: the left-most one is the best we know
  }
}

/**
 * The key the login limiter counts an address under: an IPv4 address as is, an IPv6 address by its /64 (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would let one host rotate freely).
 */
export function addressKey(address: string): string {
  const bare = unmapIPv4(address);
  if (isIP(bare) !== 6) return bare;
  const [head = '', tail] = bare.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const dotted = (tail ?? head).includes('.') ? 1 : 0; // an IPv4 tail (`64:ff9b::192.0.2.1`) fills two groups
  const missing = 8 - left.length - right.length - dotted;
  const groups = tail === undefined ? left : [...left, ...Array(missing).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
