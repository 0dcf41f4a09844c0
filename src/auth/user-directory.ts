/**
 * The SIP users, in memory (every authentication reads it: no store round trip per request), durable in the
 * store (`users` table). Changes are written first and applied once committed, so what authenticates is always
 * what survives a restart.
 */
import { aorKey, parseUri, SipParseError } from '../sip/index.js';
import type { AccountMutation, UserRecord } from '../store/account-records.js';
import { computeHa1 } from './digest.js';

/** What the directory needs from the store. */
export interface AccountWriter {
  write(mutations: readonly AccountMutation[]): Promise<void>;
}

export const MAX_PASSWORD_LENGTH = 256;
export const MAX_USERS = 100_000;

/** Thrown for input a caller (CLI, API) must fix; `code` is stable. */
export class UserInputError extends Error {
  readonly code: 'AUTH_ERR_BAD_AOR' | 'AUTH_ERR_BAD_PASSWORD' | 'AUTH_ERR_TOO_MANY_USERS';
  constructor(code: UserInputError['code'], message: string) {
    super(message);
    this.name = 'UserInputError';
    this.code = code;
  }
}

/** Splits and normalises an AOR for the users table: "sip:alice@Example.com" -> aor, username, realm. */
export function userIdentity(aor: string): { aor: string; username: string; realm: string } {
  const text = aor.trim();
  const uri = parseUri(/^sips?:/i.test(text) ? text : `sip:${text}`);
  if (uri instanceof SipParseError || uri.scheme === 'tel') {
    throw new UserInputError('AUTH_ERR_BAD_AOR', `not a SIP address of record: ${JSON.stringify(aor.slice(0, 200))}`);
  }
  if (uri.user === undefined || uri.user === '') {
    throw new UserInputError('AUTH_ERR_BAD_AOR', `a user needs a user part (user@domain): ${JSON.stringify(aor.slice(0, 200))}`);
  }
  return { aor: aorKey(uri), username: uri.user, realm: uri.host.toLowerCase() };
}

/** The stored form of a user: H(A1) for each algorithm, never the password. */
export function userRecord(aor: string, password: string, now: number, createdAt?: number): UserRecord {
  const id = userIdentity(aor);
  if (typeof password !== 'string' || password.length === 0) {
    throw new UserInputError('AUTH_ERR_BAD_PASSWORD', 'the password must not be empty');
  }
  if (password.length > MAX_PASSWORD_LENGTH || /[\x00-\x1f\x7f]/.test(password)) {
    throw new UserInputError(
      'AUTH_ERR_BAD_PASSWORD',
      `the password must be at most ${MAX_PASSWORD_LENGTH} characters without control characters`,
    );
  }
  return {
    aor: id.aor,
    username: id.username,
    realm: id.realm,
    ha1Md5: computeHa1('MD5', id.username, id.realm, password),
    ha1Sha256: computeHa1('SHA-256', id.username, id.realm, password),
    createdAt: createdAt ?? now,
    updatedAt: now,
  };
}

/** A user as the management API shows it: no secrets. */
export interface UserView {
  readonly aor: string;
  readonly username: string;
  readonly realm: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

const view = (u: UserRecord): UserView => ({
  aor: u.aor,
  username: u.username,
  realm: u.realm,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
});

export class UserDirectory {
  readonly #writer: AccountWriter;
  readonly #now: () => number;
  readonly #byAor = new Map<string, UserRecord>();
  /** realm NUL username -> user: what digest credentials name. */
  readonly #byCredentials = new Map<string, UserRecord>();
  readonly #listeners = new Set<(count: number) => void>();

  constructor(writer: AccountWriter, now: () => number) {
    this.#writer = writer;
    this.#now = now;
  }

  /** Fills the directory from the store at start-up (replaces whatever it held). */
  load(users: readonly UserRecord[]): void {
    this.#byAor.clear();
    this.#byCredentials.clear();
    for (const u of users) this.#index(u);
  }

  get size(): number {
    return this.#byAor.size;
  }

  /** The user digest credentials name (RFC 7616 username and realm), if any. */
  find(username: string, realm: string): UserRecord | undefined {
    return this.#byCredentials.get(`${realm.toLowerCase()}\0${username}`);
  }

  /** The user of an AOR (any SIP URI form); undefined when there is none or the text is not a user's AOR. */
  get(aor: string): UserView | undefined {
    let key: string;
    try {
      key = userIdentity(aor).aor;
    } catch {
      return undefined;
    }
    const u = this.#byAor.get(key);
    return u === undefined ? undefined : view(u);
  }

  list(opts: { domain?: string; limit?: number; offset?: number } = {}): UserView[] {
    const domain = opts.domain?.toLowerCase();
    const all = [...this.#byAor.values()].filter((u) => domain === undefined || u.realm === domain);
    all.sort((a, b) => (a.aor < b.aor ? -1 : a.aor > b.aor ? 1 : 0));
    const offset = Math.max(0, opts.offset ?? 0);
    return all.slice(offset, offset + Math.max(0, opts.limit ?? 1000)).map(view);
  }

  /** Creates the user or replaces its password. Resolves once durable. */
  async set(aor: string, password: string): Promise<{ created: boolean; user: UserView }> {
    const id = userIdentity(aor);
    const previous = this.#byAor.get(id.aor);
    if (previous === undefined && this.#byAor.size >= MAX_USERS) {
      throw new UserInputError('AUTH_ERR_TOO_MANY_USERS', `at most ${MAX_USERS} users`);
    }
    const record = userRecord(aor, password, this.#now(), previous?.createdAt);
    await this.#writer.write([{ kind: 'put-user', record }]);
    this.#index(record);
    this.#changed();
    return { created: previous === undefined, user: view(record) };
  }

  /** Removes the user; false when there was none. Resolves once durable. */
  async remove(aor: string): Promise<boolean> {
    const key = userIdentity(aor).aor;
    const u = this.#byAor.get(key);
    if (u === undefined) return false;
    await this.#writer.write([{ kind: 'delete-user', aor: key }]);
    // Another set() may have replaced it meanwhile; only drop what is still the same record.
    if (this.#byAor.get(key) === u) {
      this.#byAor.delete(key);
      this.#byCredentials.delete(`${u.realm}\0${u.username}`);
    }
    this.#changed();
    return true;
  }

  /** Called with the number of users after every change. */
  onChange(listener: (count: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #index(u: UserRecord): void {
    const old = this.#byAor.get(u.aor);
    if (old !== undefined) this.#byCredentials.delete(`${old.realm}\0${old.username}`);
    this.#byAor.set(u.aor, u);
    this.#byCredentials.set(`${u.realm}\0${u.username}`, u);
  }

  #changed(): void {
    for (const l of this.#listeners) {
      try {
        l(this.#byAor.size);
      } catch {
        // A listener's failure is its own problem; the change is committed.
      }
    }
  }
}
