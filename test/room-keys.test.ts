/**
 * A room's keys in Redis: kept while the room is used, whatever the store
 * script left out to save time, and given a lifetime again when Redis lost
 * them; and the log's reach for `since`, the room's last HISTORY_SIZE mids.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { connectUser, historyOf, joinRoom, say, type User } from "./support/chat.js";
import { perFile } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perFile();

async function member(url: string, room: string): Promise<User> {
  const u = await connectUser(url, { query: "proto=2&lobby=0" });
  scope.defer(() => u.client.close());
  await joinRoom(u, room);
  return u;
}

async function inspector(url: string): Promise<Redis> {
  const r = new Redis(url);
  scope.defer(() => r.disconnect());
  return r;
}

/** A node on its own Redis keeping 5 messages a room, and a member of `room` who has said m0, m1 … m(count-1) there. */
async function roomOfFive(room: string, count: number) {
  const redis = await scope.redis();
  const n = await scope.node({ REDIS_URL: redis.url, HISTORY_SIZE: "5", RATE_LIMIT: "0" });
  const talker = await member(n.url, room);
  const mids: number[] = [];
  for (let i = 0; i < count; i++) mids.push(await say(talker, `m${i}`, room));
  return { redis, n, talker, mids };
}

/** The keys the store script keeps a room's history in. */
const HISTORY_KEYS = [":seq", ":epoch", ":log", ":win", ":winlist", ":floor"];

/** Each of the room's history keys that exists, and its time to live in ms (-1: none). */
async function lifetimes(r: Redis, room: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const key of await r.keys(`*{*:${room}}*`)) {
    const part = key.slice(key.lastIndexOf("}") + 1);
    if (HISTORY_KEYS.includes(part)) out[part] = await r.pttl(key);
  }
  return out;
}

/** The room's one key of that part (":log", ":win" …). */
async function keyOf(r: Redis, room: string, part: string): Promise<string> {
  const [key] = await r.keys(`*{*:${room}}${part}`);
  if (key === undefined) throw new Error(`no ${part} key for ${room}`);
  return key;
}

describe("a room's keys in Redis", () => {
  it("keeps a room that is used for longer than its idle time, every message of it", async () => {
    const redis = await scope.redis();
    const n = await scope.node({ REDIS_URL: redis.url, ROOM_IDLE_TTL: "2", RATE_LIMIT: "0" });
    const talker = await member(n.url, "busy");
    const said: number[] = [];
    // Two and a half idle times, a message every 50 ms: most of them within the slack of the last that set the keys' lifetime.
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      said.push(await say(talker, `m${said.length}`, "busy"));
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await inspector(redis.url);
    const kept = await lifetimes(r, "busy");
    expect(Object.keys(kept).sort()).toEqual([...HISTORY_KEYS].sort());
    for (const [key, ttl] of Object.entries(kept)) {
      // The idle time, 2 s, and its slack, a tenth of it, set within the last slack.
      expect(ttl, key).toBeGreaterThan(1800);
      expect(ttl, key).toBeLessThanOrEqual(2200);
    }
    const late = await member(n.url, "busy2");
    const joined = await historyOf(late, "busy", { action: "join" });
    expect((joined.messages as Frame[]).map((m) => m.mid)).toEqual(said);
  });

  it.each([
    ["100", HISTORY_KEYS],
    ["0", [":seq", ":epoch"]],
  ])("gives a room Redis lost a lifetime again with its next message (HISTORY_SIZE=%s)", async (size, parts) => {
    const redis = await scope.redis();
    // A slack of a minute: the node would not set the keys' lifetime again for one.
    const n = await scope.node({ REDIS_URL: redis.url, ROOM_IDLE_TTL: "600", RATE_LIMIT: "0", HISTORY_SIZE: size });
    const talker = await member(n.url, "lost");
    await say(talker, "before", "lost");
    const r = await inspector(redis.url);
    await r.flushall();
    await say(talker, "after", "lost");
    const kept = await lifetimes(r, "lost");
    expect(Object.keys(kept).sort()).toEqual([...parts].sort());
    for (const [key, ttl] of Object.entries(kept)) {
      expect(ttl, key).toBeGreaterThan(599_000);
      expect(ttl, key).toBeLessThanOrEqual(660_000);
    }
  });
});

describe("a window kept by an earlier version (Redis)", () => {
  it("is read and kept in order when the list of its mids is missing", async () => {
    const { redis, n, talker, mids } = await roomOfFive("older", 5);
    const r = await inspector(redis.url);
    const order = await keyOf(r, "older", ":winlist");
    // An earlier version kept the order elsewhere: the hash of bundles is all there is.
    await r.del(order);
    const reader = await member(n.url, "elsewhere");
    const joined = await historyOf(reader, "older", { action: "join" });
    expect((joined.messages as Frame[]).map((m) => m.message)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(await r.pttl(order)).toBeGreaterThan(0);
    const before = await historyOf(reader, "older", { action: "history", before: mids[3], limit: 2 });
    expect((before.messages as Frame[]).map((m) => m.message)).toEqual(["m1", "m2"]);

    await r.del(order);
    mids.push(await say(talker, "m5", "older"));
    expect(await r.lrange(order, 0, -1)).toEqual(mids.slice(1).map(String));
    expect(await r.hlen(await keyOf(r, "older", ":win"))).toBe(5);
    expect(await r.pttl(order)).toBeGreaterThan(0);
  });
});

describe("the log's reach (Redis)", () => {
  it("recovers from the room's last HISTORY_SIZE mids, and says recovered: false before them", async () => {
    const { redis, n, talker, mids } = await roomOfFive("reach", 12);
    const joined = await historyOf(talker, "reach", { action: "join" });
    const back = await member(n.url, "elsewhere");
    const whole = await historyOf(back, "reach", { action: "join", since: mids[6], epoch: joined.epoch });
    expect(whole.recovered).toBe(true);
    expect((whole.messages as Frame[]).map((m) => m.message)).toEqual(["m7", "m8", "m9", "m10", "m11"]);
    const tooOld = await historyOf(back, "reach", { action: "join", since: mids[5], epoch: joined.epoch });
    expect(tooOld.recovered).toBe(false);
    const r = await inspector(redis.url);
    const log = await r.xrange(await keyOf(r, "reach", ":log"), "-", "+");
    expect(log.map(([id]) => id)).toEqual(mids.slice(7).map((m) => `${m}-0`));
  });
});
