/** Keys remembered at most before expired ones are swept (an attacker cycling addresses cannot grow memory without bound). */
const SWEEP_ABOVE = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

/** Failures per key in fixed windows: `limit` of them within `windowMs` lock the key until the window ends. */
class FailureWindows {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  lockedFor(key: string, now: number): number {
    const window = this.windows.get(key);
    if (window === undefined || window.failures < this.limit) return 0;
    return Math.max(0, window.startedAt + this.windowMs - now);
  }

  failed(key: string, now: number): void {
    const window = this.windows.get(key);
    if (window !== undefined && now - window.startedAt < this.windowMs) {
      window.failures += 1;
      return;
    }
    if (this.windows.size >= SWEEP_ABOVE) this.sweep(now);
    this.windows.set(key, { startedAt: now, failures: 1 });
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (now - window.startedAt >= this.windowMs) this.windows.delete(key);
  }
}

/** The limits on guessing passwords, kept in this process (FailedLogins) or shared by replicas (coordination/redis-login-limits.ts). */
export interface LoginLimits {
  /** Whole seconds until a login from `address` as `user` may be tried; 0 when it may now. */
  retryAfter(address: string, user: string): Promise<number>;
  failed(address: string, user: string): Promise<void>;
}

/** The limits a configuration sets: failures per address, per user, within one window. */
export interface LoginLimitSettings {
  limit: number;
  userLimit: number;
  windowMs: number;
}

/**
 * Limits on guessing passwords (docs/auth.md): `limit` failed logins from one client address
 * within `window` lock that address out of logging in until the window ends, and `userLimit`
 * failures for one user, from anywhere, lock that user. The user's limit is the higher one, so
 * that one address guessing a user's password is stopped long before the user is locked out
 * everywhere, while guessing from many addresses is still bounded.
 */
export class FailedLogins implements LoginLimits {
  private readonly byAddress: FailureWindows;
  private readonly byUser: FailureWindows;

  constructor(
    limits: LoginLimitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.byAddress = new FailureWindows(limits.limit, limits.windowMs);
    this.byUser = new FailureWindows(limits.userLimit, limits.windowMs);
  }

  async retryAfter(address: string, user: string): Promise<number> {
    const now = this.now();
    const locked = Math.max(this.byAddress.lockedFor(address, now), this.byUser.lockedFor(user, now));
    return Math.ceil(locked / 1000);
  }

  async failed(address: string, user: string): Promise<void> {
    const now = this.now();
    this.byAddress.failed(address, now);
    this.byUser.failed(user, now);
  }
}
