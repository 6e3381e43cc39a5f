/**
 * Where accounts, their sign-in sessions and their one-time links are kept:
 * the seam between the archive's SQL (embedded SQLite or PostgreSQL, the
 * system of record) and Redis (scaled out without DATABASE_URL), so that
 * every node sees the same accounts and sessions.
 */

export interface Account {
  /** The user id its connections have: `a-` and 128 random bits. */
  uid: string;
  name: string;
  /** What names are compared by (names.ts): unique among accounts. */
  key: string;
  /** The password hash (passwords.ts); undefined until a one-time link sets one. */
  hash: string | undefined;
  admin: boolean;
  disabled: boolean;
  created: number;
  /** The name the person chose to be shown as; undefined for their account name. */
  display: string | undefined;
  /** Their avatar's colour (an index of the palette); undefined for the one their uid gives. */
  colour: number | undefined;
}

/** What may change of an account; null clears a profile field back to its default. */
export interface AccountChange {
  hash?: string;
  admin?: boolean;
  disabled?: boolean;
  display?: string | null;
  colour?: number | null;
}

/** A signed-in browser. Kept by the SHA-256 of its cookie, so a copy of the store signs nobody in. */
export interface SignInSession {
  uid: string;
  expires: number;
}

export type LinkKind = "invite" | "reset";

/** An invitation (any new account) or a reset link (one account's password), kept by the SHA-256 of its token. */
export interface OneTimeLink {
  kind: LinkKind;
  /** The account a reset link sets the password of. */
  uid: string | undefined;
  usesLeft: number;
  expires: number;
}

export interface AccountStore {
  /** False when the name's key is an account's already. */
  create(account: Account): Promise<boolean>;
  byKey(key: string): Promise<Account | undefined>;
  byUid(uid: string): Promise<Account | undefined>;
  /** Every account, oldest first: for the admin page of a team's chat, not a directory of millions. */
  list(): Promise<Account[]>;
  /** The account linked to a provider's subject (single sign-on), if any. */
  byIdentity(issuer: string, subject: string): Promise<Account | undefined>;
  /** Links an account to a provider's subject; false when that subject is linked already. */
  linkIdentity(issuer: string, subject: string, uid: string): Promise<boolean>;
  unlinkIdentity(issuer: string, subject: string): Promise<void>;
  update(uid: string, change: AccountChange): Promise<void>;
  /** The accounts of these uids that exist, in no particular order. */
  byUids(uids: string[]): Promise<Account[]>;

  addSession(id: string, session: SignInSession): Promise<void>;
  session(id: string): Promise<SignInSession | undefined>;
  endSession(id: string): Promise<void>;
  /** Ends every session of the account: sign out everywhere, a disable, a password change. */
  endSessions(uid: string): Promise<void>;

  addLink(id: string, link: OneTimeLink): Promise<void>;
  /** A link that has a use left and has not expired, without taking a use; undefined otherwise. */
  linkOf(id: string, kind: LinkKind): Promise<OneTimeLink | undefined>;
  /** Takes one use of a link that has one left and has not expired; undefined otherwise. */
  useLink(id: string, kind: LinkKind): Promise<OneTimeLink | undefined>;

  /**
   * Counts one failed sign-in against `key` (an account or an address) in a
   * window of `windowMs`, on every node: the failures in the window so far,
   * and when it ends.
   */
  countFailure(key: string, windowMs: number): Promise<{ count: number; endsAt: number }>;
  /** The failures counted against `key` in its current window, and when it ends. */
  failures(key: string): Promise<{ count: number; endsAt: number }>;
  clearFailures(key: string): Promise<void>;
  /** Takes back one failure counted against `key`: the attempt it stood for succeeded. */
  forgive(key: string): Promise<void>;
  close(): Promise<void>;
}
