import { createHash, createHmac, randomBytes } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import { AVATAR_COLOURS } from "../protocol/profile.js";
import { checkName, type Limits } from "../protocol/rules.js";
import type { Account, AccountStore, LinkKind } from "./account-store.js";
import { accountKey } from "./names.js";
import { burnOneHash, checkNewPassword, hashPassword, PasswordRefused, verifyPassword } from "./passwords.js";

export type SignUpMode = "open" | "invite" | "closed";

export interface AccountSettings {
  signup: SignUpMode;
  pepper: string | undefined;
  sessionTtlMs: number;
  /** Sign-in attempts one account may be tried with per window, and one address may make. */
  attemptsPerAccount: number;
  attemptsPerAddress: number;
  windowMs: number;
  /** Names (ADMIN_USERS) whose accounts are admins. */
  adminNames: string[];
  limits: Limits;
}

export type AccountErrorCode =
  | "bad_request"
  | "bad_name"
  | "name_taken"
  | "bad_password"
  | "unauthorized"
  | "disabled"
  | "rate_limited"
  | "signup_closed"
  | "bad_link"
  | "forbidden";

/** A refusal the person is told, with a code; never says whether a name is an account's on a failed sign-in. */
export class AccountError extends Error {
  constructor(
    readonly code: AccountErrorCode,
    message: string,
    readonly wait?: number,
  ) {
    super(message);
  }
}

/** A provider's newcomer must choose a name: the one claimed (or "") is where the form starts. */
export interface NameNeeded {
  chooseName: string;
}

/** Who a provider vouched for (oidc.ts). */
export interface Identity {
  issuer: string;
  subject: string;
  name: string | undefined;
}

export interface SignedIn {
  account: Account;
  /** The session cookie's value: only its hash is kept. */
  token: string;
  expires: number;
}

/** What a connection's ticket vouches for. */
export interface TicketHolder {
  uid: string;
  name: string;
  /** The sign-in session: its connections end with it. */
  session: string;
  expires: number;
  /** A server admin: holds every room. */
  admin: boolean;
}

/** How long a ticket is good for: enough to open a connection, too little to be worth stealing. */
const TICKET_SECONDS = 60;
const INVITE_MAX_USES = 1000;
/** A reset link is one-time and short: it sets a password. */
const RESET_LINK_MS = 24 * 3600 * 1000;
const GUEST_NAME = /^user\s*#/i;

const sha256 = (token: string) => createHash("sha256").update(token).digest("hex");
const newToken = () => randomBytes(32).toString("base64url");
const newUid = () => `a-${randomBytes(16).toString("base64url")}`;

/**
 * Local accounts: sign-up (open, by invitation, or closed), sign-in with a
 * password (throttled per account and per address), sessions, the
 * short-lived tickets a connection presents in its first frame, and what an
 * admin does. Ending connections is the caller's: it knows the bus.
 */
export class Accounts {
  private readonly ticketKey: Uint8Array;
  private readonly adminKeys: Set<string>;

  constructor(
    private readonly store: AccountStore,
    private readonly settings: AccountSettings,
    /** Shared by every node (the guests' secret), so a ticket from one is good on another. */
    nodeSecret: string,
  ) {
    this.ticketKey = createHmac("sha256", nodeSecret).update("sign-in tickets").digest();
    this.adminKeys = new Set(settings.adminNames.map(accountKey));
  }

  get signup(): SignUpMode {
    return this.settings.signup;
  }

  /** The ADMIN_USERS names no account holds yet: whoever first signs up with one becomes an admin. */
  async unclaimedAdminNames(): Promise<string[]> {
    const held = await Promise.all(this.settings.adminNames.map((name) => this.store.byKey(accountKey(name))));
    return this.settings.adminNames.filter((_, i) => held[i] === undefined);
  }

  /** Whether a name reads as an account's (other than `uid`'s): a guest may not take it. */
  async nameTaken(name: string, uid?: string): Promise<boolean> {
    const account = await this.store.byKey(accountKey(name));
    return account !== undefined && account.uid !== uid;
  }

  async signUp(name: string, password: string, invite: string | undefined): Promise<SignedIn> {
    const { signup } = this.settings;
    if (signup === "closed") throw new AccountError("signup_closed", "this chat takes no new accounts");
    if (signup === "invite" && !invite)
      throw new AccountError("signup_closed", "this chat takes new accounts by invitation only");
    const shown = this.checkAccountName(name);
    this.checkPassword(password, shown);
    if (await this.store.byKey(accountKey(shown))) throw new AccountError("name_taken", `'${shown}' is taken`);
    if (signup === "invite" && !(await this.store.useLink(sha256(invite ?? ""), "invite"))) {
      throw new AccountError("bad_link", "this invitation has expired or been used up");
    }
    const account = await this.createAccount(shown, await hashPassword(password, this.settings.pepper));
    return this.startSession(account);
  }

  /** An account with no password yet (the CLI's first admin): its reset link sets one. */
  async createAdmin(name: string): Promise<{ account: Account; link: string }> {
    const shown = this.checkAccountName(name);
    let account = await this.store.byKey(accountKey(shown));
    if (account) {
      await this.store.update(account.uid, { admin: true, disabled: false });
    } else {
      account = await this.createAccount(shown, undefined, true);
    }
    return { account, link: await this.resetLink(account.uid) };
  }

  private async createAccount(name: string, hash: string | undefined, admin = false, uid = newUid()): Promise<Account> {
    const account: Account = {
      uid,
      name,
      key: accountKey(name),
      hash,
      admin: admin || this.adminKeys.has(accountKey(name)),
      disabled: false,
      created: Date.now(),
      display: undefined,
      colour: undefined,
    };
    if (!(await this.store.create(account))) throw new AccountError("name_taken", `'${name}' is taken`);
    return account;
  }

  private checkAccountName(name: string): string {
    let shown: string;
    try {
      shown = checkName(name, this.settings.limits);
    } catch (err) {
      throw new AccountError("bad_name", (err as Error).message);
    }
    if (GUEST_NAME.test(shown)) throw new AccountError("bad_name", "names like 'User #123' are the guests'");
    return shown;
  }

  private checkPassword(password: string, name: string): void {
    try {
      checkNewPassword(password, name);
    } catch (err) {
      if (err instanceof PasswordRefused) throw new AccountError("bad_password", err.message);
      throw err;
    }
  }

  /**
   * Each attempt is counted before the password is hashed, so that guesses
   * sent at once cannot all slip in before the first failure is counted;
   * one that succeeds is taken back. Over either limit, the attempt is
   * refused unchecked, right password or not, with the seconds to wait.
   */
  async signIn(name: string, password: string, address: string, previous: string | undefined): Promise<SignedIn> {
    const { attemptsPerAccount, attemptsPerAddress, windowMs } = this.settings;
    const key = accountKey(name);
    const [byAccount, byAddress] = await Promise.all([
      this.store.countFailure(`account:${key}`, windowMs),
      this.store.countFailure(`address:${address}`, windowMs),
    ]);
    const over = [
      byAccount.count > attemptsPerAccount ? byAccount.endsAt : 0,
      byAddress.count > attemptsPerAddress ? byAddress.endsAt : 0,
    ];
    const until = Math.max(...over);
    if (until > 0) {
      const wait = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      throw new AccountError("rate_limited", `too many sign-in attempts: try again in ${wait} s`, wait);
    }
    const account = await this.store.byKey(key);
    const verdict = account?.hash
      ? await verifyPassword(password, account.hash, this.settings.pepper)
      : await burnOneHash(password).then(() => ({ ok: false, stale: false }));
    if (!account || !verdict.ok) throw new AccountError("unauthorized", "wrong name or password");
    await Promise.all([this.store.clearFailures(`account:${key}`), this.store.forgive(`address:${address}`)]);
    if (account.disabled) throw new AccountError("disabled", "this account has been disabled");
    if (verdict.stale)
      await this.store.update(account.uid, { hash: await hashPassword(password, this.settings.pepper) });
    if (!account.admin && this.adminKeys.has(key)) {
      account.admin = true;
      await this.store.update(account.uid, { admin: true });
    }
    // A new session on each sign-in: a session id someone planted before it is worth nothing after.
    if (previous) await this.store.endSession(sha256(previous));
    return this.startSession(account);
  }

  /**
   * Signs in the person a provider vouched for, by (issuer, subject). The
   * first time, an account is made whatever SIGNUP says (the provider
   * decides who may come in), under the name the provider gave. When that
   * name is an account's already, or one the chat refuses, or there is
   * none, the person is asked to choose one (`chooseName`, the claimed name
   * to start from), as Slack and Mattermost ask, rather than given a name
   * with a number they never chose.
   */
  async signInWith(identity: Identity, previous: string | undefined): Promise<SignedIn | NameNeeded> {
    const existing = await this.store.byIdentity(identity.issuer, identity.subject);
    if (existing) return this.signInLinked(existing, previous);
    let name: string;
    try {
      name = this.checkAccountName(identity.name ?? "");
    } catch {
      return { chooseName: identity.name ?? "" };
    }
    if (await this.store.byKey(accountKey(name))) return { chooseName: name };
    try {
      return await this.signUpWith(identity, name, previous);
    } catch (err) {
      // Taken between the look and the claim: the person chooses, as if it had been taken before.
      if (err instanceof AccountError && err.code === "name_taken") return { chooseName: name };
      throw err;
    }
  }

  /** Makes the account of a provider's newcomer under the name they chose, and signs them in. */
  async signUpWith(identity: Identity, chosen: string, previous: string | undefined): Promise<SignedIn> {
    const { issuer, subject } = identity;
    const name = this.checkAccountName(chosen);
    // Linked before the account is made: of two first sign-ins at once, one makes it and the other finds it.
    const uid = newUid();
    if (!(await this.store.linkIdentity(issuer, subject, uid))) {
      const linked = await this.store.byIdentity(issuer, subject);
      if (!linked) throw new AccountError("unauthorized", "this sign-in is being set up in another window: try again");
      return this.signInLinked(linked, previous);
    }
    try {
      return await this.signInLinked(await this.createAccount(name, undefined, false, uid), previous);
    } catch (err) {
      // A link to no account would turn this person away for good: the next try starts afresh.
      if (!(await this.store.byUid(uid))) await this.store.unlinkIdentity(issuer, subject);
      throw err;
    }
  }

  private async signInLinked(account: Account, previous: string | undefined): Promise<SignedIn> {
    if (account.disabled) throw new AccountError("disabled", "this account has been disabled");
    if (previous) await this.store.endSession(sha256(previous));
    return this.startSession(account);
  }

  private async startSession(account: Account): Promise<SignedIn> {
    const token = newToken();
    const expires = Date.now() + this.settings.sessionTtlMs;
    await this.store.addSession(sha256(token), { uid: account.uid, expires });
    return { account, token, expires };
  }

  /** The signed-in account of a session cookie, or undefined for one ended, expired or disabled. */
  async whoIs(token: string | undefined): Promise<{ account: Account; session: string; expires: number } | undefined> {
    if (!token) return undefined;
    const session = await this.store.session(sha256(token));
    if (!session) return undefined;
    const account = await this.store.byUid(session.uid);
    if (!account || account.disabled) return undefined;
    return { account, session: sha256(token), expires: session.expires };
  }

  /** Ends one session; its id, so that its connections can be ended. */
  async signOut(token: string): Promise<string> {
    const id = sha256(token);
    await this.store.endSession(id);
    return id;
  }

  endSessions(uid: string): Promise<void> {
    return this.store.endSessions(uid);
  }

  /** Every other session ends; this browser gets a new one. */
  async changePassword(token: string, current: string, next: string): Promise<SignedIn> {
    const who = await this.whoIs(token);
    if (!who) throw new AccountError("unauthorized", "sign in first");
    const { account } = who;
    if (!account.hash || !(await verifyPassword(current, account.hash, this.settings.pepper)).ok) {
      throw new AccountError("unauthorized", "the current password is wrong");
    }
    this.checkPassword(next, account.name);
    await this.store.update(account.uid, { hash: await hashPassword(next, this.settings.pepper) });
    await this.store.endSessions(account.uid);
    return this.startSession(account);
  }

  ticket(who: { account: Account; session: string }): Promise<string> {
    return new SignJWT({ sid: who.session })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(who.account.uid)
      .setIssuedAt()
      .setExpirationTime(`${TICKET_SECONDS}s`)
      .sign(this.ticketKey);
  }

  /** Who a connection's ticket is for, while its session lasts and its account is enabled; undefined otherwise. */
  async redeemTicket(ticket: string): Promise<TicketHolder | undefined> {
    let sid: unknown;
    let sub: string | undefined;
    try {
      ({
        payload: { sid, sub },
      } = await jwtVerify(ticket, this.ticketKey, { algorithms: ["HS256"], requiredClaims: ["exp", "sub"] }));
    } catch {
      return undefined;
    }
    if (typeof sid !== "string" || sub === undefined) return undefined;
    const session = await this.store.session(sid);
    if (!session || session.uid !== sub) return undefined;
    const account = await this.store.byUid(sub);
    if (!account || account.disabled) return undefined;
    return { uid: account.uid, name: account.name, session: sid, expires: session.expires, admin: account.admin };
  }

  async invite(uses: number, hours: number): Promise<{ token: string; expires: number }> {
    const token = newToken();
    const expires = Date.now() + hours * 3600 * 1000;
    await this.store.addLink(sha256(token), {
      kind: "invite",
      uid: undefined,
      usesLeft: Math.min(Math.max(1, uses), INVITE_MAX_USES),
      expires,
    });
    return { token, expires };
  }

  async resetLink(uid: string): Promise<string> {
    if (!(await this.store.byUid(uid))) throw new AccountError("bad_request", "no such account");
    const token = newToken();
    await this.store.addLink(sha256(token), { kind: "reset", uid, usesLeft: 1, expires: Date.now() + RESET_LINK_MS });
    return token;
  }

  /** Sets the password a reset link is for; the account's other sessions end, and this browser is signed in. */
  async useReset(token: string, password: string): Promise<SignedIn> {
    // Checked before the link is spent, against the name of the account it is for: a refused
    // password must not use up a one-time link (the CLI's first admin has no other way in).
    const bad = () => new AccountError("bad_link", "this link has expired or been used");
    const open = await this.store.linkOf(sha256(token), "reset");
    const account = open?.uid === undefined ? undefined : await this.store.byUid(open.uid);
    if (!account) throw bad();
    this.checkPassword(password, account.name);
    if ((await this.useLink(token, "reset")).uid !== account.uid) throw bad();
    await this.store.update(account.uid, { hash: await hashPassword(password, this.settings.pepper) });
    await this.store.endSessions(account.uid);
    if (account.disabled) throw new AccountError("disabled", "this account has been disabled");
    return this.startSession(account);
  }

  private async useLink(token: string, kind: LinkKind) {
    const link = await this.store.useLink(sha256(token), kind);
    if (!link) throw new AccountError("bad_link", "this link has expired or been used");
    return link;
  }

  list(): Promise<Account[]> {
    return this.store.list();
  }

  /**
   * Sets what a person is shown as: a display name (any Unicode, normalised
   * and limited as names are; "" for their account name) and an avatar
   * colour (an index of the palette; null for the one their uid gives). The
   * account name stays theirs and unique, as Slack's and Mattermost's
   * usernames do; a display name may not read as another account's name, so
   * that nobody is shown as someone else.
   */
  async setProfile(uid: string, display: string, colour: number | null): Promise<Account> {
    const account = await this.store.byUid(uid);
    if (!account) throw new AccountError("unauthorized", "sign in first");
    if (colour !== null && !(Number.isInteger(colour) && colour >= 0 && colour < AVATAR_COLOURS)) {
      throw new AccountError("bad_request", `colour must be one of the ${AVATAR_COLOURS} of the palette`);
    }
    const shown = display.trim() === "" ? null : this.checkAccountName(display);
    if (shown !== null && (await this.nameTaken(shown, uid))) {
      throw new AccountError("name_taken", `'${shown}' reads as another account's name`);
    }
    // The account's own name, chosen again, is no display name of its own.
    const chosen = shown === account.name ? null : shown;
    await this.store.update(uid, { display: chosen, colour });
    return { ...account, display: chosen ?? undefined, colour: colour ?? undefined };
  }

  /** The accounts of some uids (those that are accounts'), for their profiles. */
  profiles(uids: string[]): Promise<Account[]> {
    return this.store.byUids(uids);
  }

  /**
   * The people directory: enabled accounts whose name holds `q` (compared as
   * names are), by name, `limit` a page; `after` is the name key the page before ended on.
   */
  async people(
    q: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ items: { uid: string; name: string }[]; next?: string }> {
    const wanted = accountKey(q);
    const found = (await this.store.list())
      .filter((a) => !a.disabled && a.key.includes(wanted) && (after === undefined || a.key > after))
      .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const page = found.slice(0, limit);
    return {
      items: page.map((a) => ({ uid: a.uid, name: a.name })),
      next: found.length > limit ? page[page.length - 1]?.key : undefined,
    };
  }

  async set(uid: string, change: { admin?: boolean; disabled?: boolean }): Promise<Account> {
    const account = await this.store.byUid(uid);
    if (!account) throw new AccountError("bad_request", "no such account");
    await this.store.update(uid, change);
    if (change.disabled) await this.store.endSessions(uid);
    return { ...account, ...change };
  }
}
