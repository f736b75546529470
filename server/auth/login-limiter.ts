/**
 * Login throttling (docs/server.md, "Login throttling"). An attempt is admitted or refused before any password
 * is hashed; an admitted attempt counts as a failure until it succeeds, so concurrent guesses cannot slip past.
 *
 * - Untrusted clients (no valid trusted-client token for the user they name) face three limits at once:
 *   per user name (any address), per client address (any name) and a global failure budget. Past the free
 *   failures, each further failure doubles the wait, up to `maxDelayMs`.
 * - A trusted client — a browser that logged in as that user before and shows the token it was then given
 *   (OWASP "device cookies") — skips those three and is limited on its own: `deviceFailures` failures revoke
 *   its token. So a stranger can slow strangers down, but not the people who already log in from their browser.
 *
 * Memory is bounded whatever is sent: one entry per existing user (the caller says which names exist), at most
 * `maxKeys` unknown names and `maxKeys` addresses (the least recently failed forgotten first — which never
 * touches an existing user's count), at most `devicesPerUser` tokens per user.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerConfig } from '../config.js';

export interface LoginLimiterOptions {
  /** Failures per user name before the first wait. */
  freeFailures: number;
  /** Failures per client address (over all names) before the first wait. */
  freeAddressFailures: number;
  /** The first wait; it doubles with each further failure … */
  baseDelayMs: number;
  /** … up to this. */
  maxDelayMs: number;
  /** Failures per minute over all names and addresses (a token bucket of this size, refilled over a minute). */
  failuresPerMinute: number;
  /** A count is forgotten once this long has passed since its last failure and its wait. */
  forgetAfterMs: number;
  /** Unknown user names tracked at most, and client addresses tracked at most. */
  maxKeys: number;
  /** A trusted-client token is valid this long after its last successful login. */
  deviceTtlMs: number;
  /** Trusted-client tokens kept per user (the most recently used). */
  devicesPerUser: number;
  /** Failed logins with a trusted-client token that revoke it. */
  deviceFailures: number;
}

export const LOGIN_LIMITER_DEFAULTS: LoginLimiterOptions = {
  freeFailures: 3,
  freeAddressFailures: 10,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  failuresPerMinute: 60,
  forgetAfterMs: 15 * 60_000,
  maxKeys: 10_000,
  deviceTtlMs: 30 * 86_400_000,
  devicesPerUser: 10,
  deviceFailures: 3,
};

export interface LoginAttempt {
  /** The user's id when the name exists, else null. */
  userId: number | null;
  username: string;
  /** The client's real address (see client-address.ts). */
  address: string;
  /** The trusted-client token the client sent, if any. */
  deviceToken?: string | undefined;
}

export type RefusalReason = 'user' | 'address' | 'global';

export type Admission =
  | {
      allowed: true;
      /** Whether the attempt came with a valid trusted-client token for this user. */
      trusted: boolean;
      failed(): void;
      /** Returns the trusted-client token to hand back to the client (new, or the one it showed). */
      succeeded(): string;
    }
  | { allowed: false; reason: RefusalReason; waitMs: number };

interface Count {
  failures: number;
  last: number;
}

interface Device {
  expiresAt: number;
  failures: number;
}

interface UserState {
  count?: Count | undefined;
  /** sha256 of the token → its state; Map order = least recently used first. */
  devices: Map<string, Device>;
}

const tokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export class LoginLimiter {
  private readonly options: LoginLimiterOptions;
  private readonly users = new Map<number, UserState>();
  private readonly unknownNames = new Map<string, Count>();
  private readonly addresses = new Map<string, Count>();
  private tokens: number;
  private tokensAt: number;

  constructor(
    options: Partial<LoginLimiterOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...LOGIN_LIMITER_DEFAULTS, ...options };
    this.tokens = this.options.failuresPerMinute;
    this.tokensAt = this.now();
  }

  /** How long a trusted-client token stays valid after its last successful login. */
  get deviceTtlMs(): number {
    return this.options.deviceTtlMs;
  }

  static fromConfig(config: Pick<ServerConfig, 'LOGIN_DELAY' | 'LOGIN_MAX_DELAY' | 'LOGIN_FAILURE_BUDGET'>): LoginLimiter {
    return new LoginLimiter({
      baseDelayMs: config.LOGIN_DELAY,
      maxDelayMs: config.LOGIN_MAX_DELAY,
      failuresPerMinute: config.LOGIN_FAILURE_BUDGET,
    });
  }

  /** Decides before any password is hashed; an admitted attempt must end with `failed()` or `succeeded()`. */
  admit(attempt: LoginAttempt): Admission {
    const now = this.now();
    const device = this.validDevice(attempt, now);
    if (device) return this.admitTrusted(attempt, device);

    const nameKey = attempt.username.normalize('NFC').toLowerCase();
    const user = attempt.userId === null ? undefined : this.userState(attempt.userId);
    const userCount = user ? this.fresh(user.count, now) : this.fresh(this.unknownNames.get(nameKey), now);
    const addressCount = this.fresh(this.addresses.get(attempt.address), now);
    const waits: Array<[RefusalReason, number]> = [
      ['user', this.waitOf(userCount, this.options.freeFailures, now)],
      ['address', this.waitOf(addressCount, this.options.freeAddressFailures, now)],
      ['global', this.globalWait(now)],
    ];
    const [reason, waitMs] = waits.reduce((worst, next) => (next[1] > worst[1] ? next : worst));
    if (waitMs > 0) return { allowed: false, reason, waitMs };

    // Counted as a failure from now on; a success takes it back.
    const userEntry = userCount ?? { failures: 0, last: now };
    userEntry.failures++;
    userEntry.last = now;
    if (user) user.count = userEntry;
    else this.remember(this.unknownNames, nameKey, userEntry);
    const addressEntry = addressCount ?? { failures: 0, last: now };
    addressEntry.failures++;
    addressEntry.last = now;
    this.remember(this.addresses, attempt.address, addressEntry);
    this.tokens -= 1;

    let settled = false;
    return {
      allowed: true,
      trusted: false,
      failed: () => {
        if (settled) return;
        settled = true;
        const at = this.now(); // the wait runs from when the failure was known
        userEntry.last = at;
        addressEntry.last = at;
      },
      succeeded: () => {
        if (!user) throw new Error('a login with an unknown user name cannot succeed');
        settled = true;
        user.count = undefined;
        addressEntry.failures = Math.max(0, addressEntry.failures - 1);
        this.tokens = Math.min(this.options.failuresPerMinute, this.tokens + 1);
        return this.issueDevice(user);
      },
    };
  }

  private admitTrusted(attempt: LoginAttempt, device: { hash: string; state: Device }): Admission {
    const user = this.userState(attempt.userId as number);
    device.state.failures++;
    let settled = false;
    return {
      allowed: true,
      trusted: true,
      failed: () => {
        if (settled) return;
        settled = true;
        if (device.state.failures >= this.options.deviceFailures) user.devices.delete(device.hash);
      },
      succeeded: () => {
        settled = true;
        device.state.failures = 0;
        device.state.expiresAt = this.now() + this.options.deviceTtlMs;
        user.devices.delete(device.hash); // re-insert: most recently used last
        user.devices.set(device.hash, device.state);
        return attempt.deviceToken as string;
      },
    };
  }

  private validDevice(attempt: LoginAttempt, now: number): { hash: string; state: Device } | null {
    if (attempt.userId === null || !attempt.deviceToken || attempt.deviceToken.length > 200) return null;
    const devices = this.users.get(attempt.userId)?.devices;
    const hash = tokenHash(attempt.deviceToken);
    const state = devices?.get(hash);
    if (!devices || !state) return null;
    if (state.expiresAt <= now) {
      devices.delete(hash);
      return null;
    }
    // Failures in flight count: past the limit the client is treated as untrusted.
    return state.failures < this.options.deviceFailures ? { hash, state } : null;
  }

  private issueDevice(user: UserState): string {
    const token = randomBytes(32).toString('base64url');
    user.devices.set(tokenHash(token), { expiresAt: this.now() + this.options.deviceTtlMs, failures: 0 });
    while (user.devices.size > this.options.devicesPerUser) user.devices.delete(user.devices.keys().next().value as string);
    return token;
  }

  private userState(userId: number): UserState {
    let state = this.users.get(userId);
    if (!state) {
      state = { devices: new Map() };
      this.users.set(userId, state);
    }
    return state;
  }

  private delayOf(failures: number, free: number): number {
    if (failures < free) return 0;
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(failures - free, 40));
  }

  private waitOf(count: Count | undefined, free: number, now: number): number {
    return count ? Math.max(0, count.last + this.delayOf(count.failures, free) - now) : 0;
  }

  /** The count, or undefined once it is old enough to forget. */
  private fresh(count: Count | undefined, now: number): Count | undefined {
    if (!count) return undefined;
    return now - count.last > this.options.forgetAfterMs + this.options.maxDelayMs ? undefined : count;
  }

  private globalWait(now: number): number {
    const rate = this.options.failuresPerMinute / 60_000;
    this.tokens = Math.min(this.options.failuresPerMinute, this.tokens + (now - this.tokensAt) * rate);
    this.tokensAt = now;
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / rate);
  }

  /** Sets `key` as the most recently failed; forgets the least recently failed beyond `maxKeys`. */
  private remember(map: Map<string, Count>, key: string, count: Count): void {
    map.delete(key);
    map.set(key, count);
    while (map.size > this.options.maxKeys) map.delete(map.keys().next().value as string);
  }
}
