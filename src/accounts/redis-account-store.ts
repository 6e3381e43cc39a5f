import type { RedisLink } from "../redis/redis-link.js";
import type { Account, AccountChange, AccountStore, LinkKind, OneTimeLink, SignInSession } from "./account-store.js";
import type { FailureCount } from "./failure-windows.js";
import { RedisFailureWindows } from "./redis-failure-windows.js";

/** Where an account's keys start: one hash tag (one Cluster slot) for them all. */
export function accountsBase(prefix: string): string {
  return `${prefix}:{${prefix}:accounts}`;
}

/**
 * Accounts in Redis, for nodes scaled out through Redis without
 * DATABASE_URL: there is no SQL archive then, and every node must see the
 * same accounts, sessions and failure counts (RedisFailureWindows). All of it shares one hash tag
 * (one Cluster slot), so a name's claim and its account are written together.
 */
export class RedisAccountStore implements AccountStore {
  private readonly base: string;
  private readonly failureWindows: RedisFailureWindows;

  constructor(
    private readonly link: RedisLink,
    prefix: string,
  ) {
    this.base = accountsBase(prefix);
    this.failureWindows = new RedisFailureWindows(link, this.base);
  }

  private get redis() {
    return this.link.pub;
  }

  private account(uid: string): string {
    return `${this.base}:a:${uid}`;
  }

  async create(a: Account): Promise<boolean> {
    if ((await this.redis.hsetnx(`${this.base}:names`, a.key, a.uid)) === 0) return false;
    await this.redis
      .multi()
      .hset(this.account(a.uid), {
        name: a.name,
        key: a.key,
        hash: a.hash ?? "",
        admin: a.admin ? "1" : "0",
        disabled: a.disabled ? "1" : "0",
        created: String(a.created),
        display: a.display ?? "",
        colour: a.colour === undefined ? "" : String(a.colour),
      })
      .zadd(`${this.base}:list`, a.created, a.uid)
      .exec();
    return true;
  }

  async byKey(key: string): Promise<Account | undefined> {
    const uid = await this.redis.hget(`${this.base}:names`, key);
    return uid === null ? undefined : this.byUid(uid);
  }

  async byUid(uid: string): Promise<Account | undefined> {
    const h = await this.redis.hgetall(this.account(uid));
    if (h.name === undefined) return undefined;
    return {
      uid,
      name: h.name,
      key: h.key ?? "",
      hash: h.hash ? h.hash : undefined,
      admin: h.admin === "1",
      disabled: h.disabled === "1",
      created: Number(h.created),
      display: h.display ? h.display : undefined,
      colour: h.colour ? Number(h.colour) : undefined,
    };
  }

  private identity(issuer: string, subject: string): string {
    // JSON keeps the two apart whatever characters an issuer or subject holds.
    return JSON.stringify([issuer, subject]);
  }

  async byIdentity(issuer: string, subject: string): Promise<Account | undefined> {
    const uid = await this.redis.hget(`${this.base}:identities`, this.identity(issuer, subject));
    return uid === null ? undefined : this.byUid(uid);
  }

  async linkIdentity(issuer: string, subject: string, uid: string): Promise<boolean> {
    return (await this.redis.hsetnx(`${this.base}:identities`, this.identity(issuer, subject), uid)) === 1;
  }

  async unlinkIdentity(issuer: string, subject: string): Promise<void> {
    await this.redis.hdel(`${this.base}:identities`, this.identity(issuer, subject));
  }

  async list(): Promise<Account[]> {
    const uids = await this.redis.zrange(`${this.base}:list`, 0, -1);
    const all = await Promise.all(uids.map((uid) => this.byUid(uid)));
    return all.filter((a): a is Account => a !== undefined);
  }

  async byUids(uids: string[]): Promise<Account[]> {
    const all = await Promise.all(uids.map((uid) => this.byUid(uid)));
    return all.filter((a): a is Account => a !== undefined);
  }

  async update(uid: string, change: AccountChange): Promise<void> {
    const fields: Record<string, string> = {};
    if (change.hash !== undefined) fields.hash = change.hash;
    if (change.admin !== undefined) fields.admin = change.admin ? "1" : "0";
    if (change.disabled !== undefined) fields.disabled = change.disabled ? "1" : "0";
    // "" is the default: a person who chose nothing.
    if (change.display !== undefined) fields.display = change.display ?? "";
    if (change.colour !== undefined) fields.colour = change.colour === null ? "" : String(change.colour);
    if (Object.keys(fields).length > 0) await this.redis.hset(this.account(uid), fields);
  }

  async addSession(id: string, s: SignInSession): Promise<void> {
    await this.redis
      .multi()
      .set(`${this.base}:s:${id}`, `${s.uid}\t${s.expires}`, "PXAT", s.expires)
      .sadd(`${this.base}:us:${s.uid}`, id)
      .exec();
  }

  async session(id: string): Promise<SignInSession | undefined> {
    const v = await this.redis.get(`${this.base}:s:${id}`);
    if (v === null) return undefined;
    const [uid = "", expires = "0"] = v.split("\t");
    return Number(expires) > Date.now() ? { uid, expires: Number(expires) } : undefined;
  }

  async endSession(id: string): Promise<void> {
    const s = await this.session(id);
    await this.redis.del(`${this.base}:s:${id}`);
    if (s) await this.redis.srem(`${this.base}:us:${s.uid}`, id);
  }

  async endSessions(uid: string): Promise<void> {
    const ids = await this.redis.smembers(`${this.base}:us:${uid}`);
    const m = this.redis.multi();
    for (const id of ids) m.del(`${this.base}:s:${id}`);
    await m.del(`${this.base}:us:${uid}`).exec();
  }

  async addLink(id: string, link: OneTimeLink): Promise<void> {
    const key = `${this.base}:l:${id}`;
    await this.redis
      .multi()
      .hset(key, { kind: link.kind, uid: link.uid ?? "", uses: String(link.usesLeft), expires: String(link.expires) })
      .pexpireat(key, link.expires)
      .exec();
  }

  async linkOf(id: string, kind: LinkKind): Promise<OneTimeLink | undefined> {
    const h = await this.redis.hgetall(`${this.base}:l:${id}`);
    if (h.kind !== kind || Number(h.expires) <= Date.now() || Number(h.uses) <= 0) return undefined;
    return { kind, uid: h.uid ? h.uid : undefined, usesLeft: Number(h.uses), expires: Number(h.expires) };
  }

  async useLink(id: string, kind: LinkKind): Promise<OneTimeLink | undefined> {
    const key = `${this.base}:l:${id}`;
    const h = await this.redis.hgetall(key);
    if (h.kind !== kind || Number(h.expires) <= Date.now()) return undefined;
    // HINCRBY is atomic: of two nodes taking the last use at once, one sees -1 and is refused.
    const left = await this.redis.hincrby(key, "uses", -1);
    if (left < 0) return undefined;
    return { kind, uid: h.uid ? h.uid : undefined, usesLeft: left, expires: Number(h.expires) };
  }

  countFailure(key: string, windowMs: number): Promise<FailureCount> {
    return this.failureWindows.count(key, windowMs);
  }

  failures(key: string): Promise<FailureCount> {
    return this.failureWindows.get(key);
  }

  clearFailures(key: string): Promise<void> {
    return this.failureWindows.clear(key);
  }

  forgive(key: string): Promise<void> {
    return this.failureWindows.forgive(key);
  }

  async close(): Promise<void> {}
}
