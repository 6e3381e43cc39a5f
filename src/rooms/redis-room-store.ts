import type { Role, Visibility } from "../protocol/rooms.js";
import { DEFAULT_ROOM } from "../protocol/rules.js";
import type { RedisLink } from "../redis/redis-link.js";
import { decodeCursor, encodeCursor, nameKey } from "./cursor.js";
import type { LinkRecord, MemberRecord, Page, RoomChange, RoomRecord, RoomStore } from "./room-store.js";

/** Directory entries read per round while looking for those that match `q`, and at most per request. */
const SCAN_BATCH = 200;
const SCAN_MOST = 5000;

/** A sorted set member that orders by name, then id: NUL sorts before every character a key can hold. */
const lexMember = (key: string, id: string) => `${key}\u0000${id}`;
const splitLex = (member: string): [string, string] => {
  const cut = member.lastIndexOf("\u0000");
  return [member.slice(0, cut), member.slice(cut + 1)];
};

/** A room from its hash; undefined for none. */
function record(id: string, h: Record<string, string>): RoomRecord | undefined {
  if (h.name === undefined) return undefined;
  return {
    id,
    name: h.name,
    topic: h.topic ?? "",
    visibility: (h.visibility ?? "public") as Visibility,
    creator: h.creator ? h.creator : undefined,
    created: Number(h.created),
    version: Number(h.version ?? 0),
  };
}

/** HGETALL's flat reply as field, value pairs. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}

/**
 * Rooms in Redis, for nodes scaled out through Redis without DATABASE_URL:
 * every node must see the same rooms, members and links. All of it shares
 * one hash tag (one Cluster slot). A link's uses are counted by HINCRBY,
 * which is atomic: of two nodes taking its last use at once, one sees it
 * go below zero and is refused. A room a `join` made is forgotten as its
 * messages are, `idleMs` after it was last joined, and leaves the directory then.
 */
export class RedisRoomStore implements RoomStore {
  private readonly base: string;

  constructor(
    private readonly link: RedisLink,
    prefix: string,
    /** ROOM_IDLE_TTL: how long Redis keeps a room nobody uses. */
    private readonly idleMs: number,
  ) {
    this.base = `${prefix}:{${prefix}:rooms}`;
  }

  private get redis() {
    return this.link.pub;
  }

  private key(kind: string, id: string): string {
    return `${this.base}:${kind}:${id}`;
  }

  async get(id: string): Promise<RoomRecord | undefined> {
    return record(id, await this.redis.hgetall(this.key("r", id)));
  }

  async create(r: RoomRecord, owner: { uid: string; name: string } | undefined): Promise<boolean> {
    if ((await this.redis.hsetnx(this.key("r", r.id), "name", r.name)) === 0) return false;
    const tx = this.redis.multi().hset(this.key("r", r.id), {
      topic: r.topic,
      visibility: r.visibility,
      creator: r.creator ?? "",
      created: String(r.created),
    });
    if (r.visibility !== "private") tx.zadd(`${this.base}:dir`, 0, lexMember(nameKey(r.name), r.id));
    if (r.creator) tx.sadd(this.key("c", r.creator), r.id);
    if (this.forgettable(r)) tx.pexpire(this.key("r", r.id), this.idleMs);
    await tx.exec();
    if (owner) await this.setMember(r.id, { ...owner, role: "owner" });
    return true;
  }

  /** No one made it but a join, and it is not the lobby: it lives as long as its messages would. */
  private forgettable(r: { id: string; creator: string | undefined }): boolean {
    return r.creator === undefined && r.id !== DEFAULT_ROOM;
  }

  async touch(id: string): Promise<void> {
    if (id === DEFAULT_ROOM) return;
    // XX: only a room that is kept and forgettable (it has an expiry) is renewed; an owner's room has none.
    await this.redis.pexpire(this.key("r", id), this.idleMs, "XX");
  }

  createdBy(uid: string): Promise<number> {
    return this.redis.scard(this.key("c", uid));
  }

  async update(id: string, change: RoomChange): Promise<RoomRecord | undefined> {
    // Only the fields changed are written: another node's change of the others stands.
    const fields = Object.entries(change).flatMap(([field, value]) => (value === undefined ? [] : [field, value]));
    // The directory orders by the name folded, which only JavaScript does: a rename in between means reading again.
    for (;;) {
      const before = await this.get(id);
      if (!before) return undefined;
      const name = change.name ?? before.name;
      const after = await this.redis.chatRoomUpdate(
        this.key("r", id),
        `${this.base}:dir`,
        before.name,
        lexMember(nameKey(before.name), id),
        lexMember(nameKey(name), id),
        ...fields,
      );
      if (after === null) return undefined;
      if (after !== 0) return record(id, Object.fromEntries(pairs(after)));
    }
  }

  async directory(q: string | undefined, after: string | undefined, limit: number): Promise<Page<RoomRecord>> {
    const from = decodeCursor(after);
    let start = from ? `(${lexMember(from[0], from[1])}` : "-";
    const found: { key: string; id: string }[] = [];
    const wanted = q === undefined ? undefined : nameKey(q);
    for (let scanned = 0; found.length <= limit && scanned < SCAN_MOST; scanned += SCAN_BATCH) {
      const batch = await this.redis.zrangebylex(`${this.base}:dir`, start, "+", "LIMIT", 0, SCAN_BATCH);
      for (const member of batch) {
        const [key, id] = splitLex(member);
        if (wanted === undefined || key.includes(wanted)) found.push({ key, id });
      }
      if (batch.length < SCAN_BATCH) break;
      start = `(${batch[batch.length - 1]}`;
    }
    const page = found.slice(0, limit);
    const rooms = await Promise.all(page.map((f) => this.get(f.id)));
    // A room that was forgotten leaves the directory as it is met.
    const gone = page.filter((_, i) => rooms[i] === undefined).map((f) => lexMember(f.key, f.id));
    if (gone.length > 0) await this.redis.zrem(`${this.base}:dir`, ...gone);
    const last = found.length > limit ? page[page.length - 1] : undefined;
    return {
      items: rooms.filter((r): r is RoomRecord => r !== undefined),
      next: last && encodeCursor(last.key, last.id),
    };
  }

  async member(room: string, uid: string): Promise<MemberRecord | undefined> {
    const json = await this.redis.hget(this.key("m", room), uid);
    if (json === null) return undefined;
    const { name, role } = JSON.parse(json) as { name: string; role: Role };
    return { uid, name, role };
  }

  async setMember(room: string, m: MemberRecord): Promise<void> {
    const before = await this.member(room, m.uid);
    const tx = this.redis.multi().hset(this.key("m", room), m.uid, JSON.stringify({ name: m.name, role: m.role }));
    if (before) tx.zrem(this.key("mk", room), lexMember(nameKey(before.name), m.uid));
    await tx.zadd(this.key("mk", room), 0, lexMember(nameKey(m.name), m.uid)).exec();
  }

  async removeMember(room: string, uid: string): Promise<void> {
    const before = await this.member(room, uid);
    if (!before) return;
    await this.redis
      .multi()
      .hdel(this.key("m", room), uid)
      .zrem(this.key("mk", room), lexMember(nameKey(before.name), uid))
      .exec();
  }

  async members(room: string, after: string | undefined, limit: number): Promise<Page<MemberRecord>> {
    const from = decodeCursor(after);
    const start = from ? `(${lexMember(from[0], from[1])}` : "-";
    const batch = await this.redis.zrangebylex(this.key("mk", room), start, "+", "LIMIT", 0, limit + 1);
    const page = batch.slice(0, limit).map(splitLex);
    const held = page.length > 0 ? await this.redis.hmget(this.key("m", room), ...page.map(([, uid]) => uid)) : [];
    const items: MemberRecord[] = [];
    page.forEach(([, uid], i) => {
      const json = held[i];
      if (json) items.push({ uid, ...(JSON.parse(json) as { name: string; role: Role }) });
    });
    const last = batch.length > limit ? page[page.length - 1] : undefined;
    return { items, next: last && encodeCursor(last[0], last[1]) };
  }

  async invite(room: string, uid: string, expires: number): Promise<void> {
    await this.redis.hset(this.key("i", room), uid, String(expires));
  }

  async takeInvitation(room: string, uid: string, now: number): Promise<boolean> {
    const expires = await this.redis.hget(this.key("i", room), uid);
    if (expires === null) return false;
    // HDEL answers 1 to one taker only.
    const taken = (await this.redis.hdel(this.key("i", room), uid)) === 1;
    return taken && Number(expires) > now;
  }

  async addLink(hash: string, link: LinkRecord): Promise<void> {
    const ttlMs = Math.max(1, link.expires - Date.now());
    await this.redis
      .multi()
      .hset(this.key("l", hash), {
        room: link.room,
        by: link.by,
        uses: String(link.usesLeft),
        expires: String(link.expires),
      })
      .pexpire(this.key("l", hash), ttlMs)
      .zadd(this.key("lr", link.room), link.expires, hash)
      .exec();
  }

  async linkRoom(hash: string, now: number): Promise<string | undefined> {
    const h = await this.redis.hgetall(this.key("l", hash));
    return h.room !== undefined && Number(h.expires) > now && Number(h.uses) > 0 ? h.room : undefined;
  }

  async redeemLink(hash: string, now: number): Promise<string | undefined> {
    const key = this.key("l", hash);
    const h = await this.redis.hgetall(key);
    if (h.room === undefined || Number(h.expires) <= now) return undefined;
    const left = await this.redis.hincrby(key, "uses", -1);
    if (left < 0) return undefined;
    if (left === 0) await this.redis.zrem(this.key("lr", h.room), hash);
    return h.room;
  }

  async outstanding(room: string, now: number): Promise<number> {
    const [[, links], invitations] = await Promise.all([
      this.redis
        .multi()
        .zremrangebyscore(this.key("lr", room), "-inf", now)
        .zcard(this.key("lr", room))
        .exec()
        .then((r) => [undefined, Number(r?.[1]?.[1] ?? 0)] as const),
      this.redis.hvals(this.key("i", room)),
    ]);
    return links + invitations.filter((e) => Number(e) > now).length;
  }
}
