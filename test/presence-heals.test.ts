import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { joinRoom, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import type { RedisProcess } from "./support/redis-servers.js";
import { perFile, perTest } from "./support/scope.js";

/**
 * Presence that heals: whatever a node that died, or stalled, or a change cut
 * short left in Redis, the room's list is right again within PRESENCE_TTL.
 * The half-states older versions left are written into the real Redis as a
 * crash left them; the crashes are real SIGKILLs and SIGSTOPs of node processes.
 */
const TTL_S = 2;
const env = (redis: RedisProcess) => ({ REDIS_URL: redis.url, PRESENCE_TTL: String(TTL_S), PRESENCE_GRACE: "1" });
/** A dead lease is seen on a survivor's next sweep (a third of a TTL), once the survivor has beaten a TTL; two seconds more for a busy machine. */
const WITHIN_TTL_MS = 2 * TTL_S * 1000 + 3000;

const shared = perFile();
const scope = perTest();
let redis: RedisProcess;
let a: NodeProcess;
let inspect: Redis;

beforeAll(async () => {
  redis = await shared.redis();
  a = await shared.node(env(redis));
  inspect = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  shared.defer(() => inspect.disconnect());
});

const roomKey = (room: string, part: string) => `chat:{chat:${room}}:${part}`;

/** Who `u` is told is in the room, asked afresh. */
async function listed(u: User, room: string): Promise<string[]> {
  const ref = `who-${Math.random()}`;
  await u.client.send({ action: "users", room, ref });
  const list = await u.client.action("users", (f) => f.ref === ref);
  return (list.users as { uid: string }[]).map((x) => x.uid).sort();
}

/** A watcher on node A, in `room`, with a user on another node there too. */
async function watched(room: string, other: NodeProcess): Promise<{ watcher: User; away: User }> {
  const watcher = await scope.user(a);
  await joinRoom(watcher, room);
  const away = await scope.user(other);
  await joinRoom(away, room);
  await watcher.client.action("user_join", (f) => f.id === away.id && f.room === room);
  return { watcher, away };
}

describe("a room's list heals within PRESENCE_TTL", () => {
  it("drops a user listed with no connection and no departure due: an exit, or a rename racing a departure, cut short", async () => {
    const watcher = await scope.user(a);
    await joinRoom(watcher, "half-exit");
    // What an exit whose node died between taking the connection out and scheduling the departure left,
    // and what a rename that read 'still there' just before the user left wrote back: a name and nothing else.
    await inspect.hset(roomKey("half-exit", "users"), "g-ghost", "Ghost");
    await inspect.hset(roomKey("half-exit", "reps"), "g-ghost", "gonenode.abcdefghijkl");
    expect(await listed(watcher, "half-exit")).toContain("g-ghost");
    const left = await watcher.client.action(
      "user_left",
      (f) => f.uid === "g-ghost" && f.room === "half-exit",
      WITHIN_TTL_MS,
    );
    expect(left).toMatchObject({ name: "Ghost" });
    expect(await listed(watcher, "half-exit")).toEqual([watcher.uid]);
  });

  it("drops the users of a node killed after its room list lost a room (enter racing a last exit)", async () => {
    const c = await scope.node(env(redis));
    const { watcher, away } = await watched("unlisted", c);
    // The room list older versions kept per node, from which they reaped: the race left the room out of it.
    await inspect.srem(`chat:node:${c.nodeId}:rooms`, "unlisted");
    await c.kill();
    await watcher.client.action("user_left", (f) => f.uid === away.uid && f.room === "unlisted", WITHIN_TTL_MS);
    expect(await listed(watcher, "unlisted")).toEqual([watcher.uid]);
  });

  it("drops the users of a killed node whose reaper claimed it and died before reaping", async () => {
    const c = await scope.node(env(redis));
    const { watcher, away } = await watched("claimed", c);
    await c.kill();
    // The claim older versions made (ZREM of the dead node's heartbeat) by a reaper that then died too.
    await inspect.zrem("chat:nodes", c.nodeId);
    await watcher.client.action("user_left", (f) => f.uid === away.uid && f.room === "claimed", WITHIN_TTL_MS);
    expect(await listed(watcher, "claimed")).toEqual([watcher.uid]);
  });

  it("lists a stalled node's users again once it wakes up, and announces them back", async () => {
    const c = await scope.node(env(redis));
    const { watcher, away } = await watched("stall", c);
    c.child.kill("SIGSTOP");
    scope.defer(() => c.child.kill("SIGCONT"));
    await watcher.client.action("user_left", (f) => f.uid === away.uid && f.room === "stall", WITHIN_TTL_MS);
    expect(await listed(watcher, "stall")).toEqual([watcher.uid]);
    const back = watcher.client.waitNew(
      (f) => f.action === "user_join" && f.uid === away.uid && f.room === "stall",
      WITHIN_TTL_MS,
    );
    c.child.kill("SIGCONT");
    await back;
    expect(await listed(watcher, "stall")).toEqual([watcher.uid, away.uid].sort());
    await c.waitForOutput(/heartbeat lapsed/);
  });
});

describe("every presence key expires", () => {
  it("leaves no key of a room without an expiry, so what nobody sweeps is gone on its own", async () => {
    const u = await scope.user(a);
    await joinRoom(u, "expiring");
    const keys = await inspect.keys(roomKey("expiring", "*"));
    const presenceKeys = keys.filter((k) => /:(conns|users|counts|reps|leases|leaving)$/.test(k));
    expect(presenceKeys.length).toBeGreaterThanOrEqual(4);
    for (const key of presenceKeys) expect(await inspect.pttl(key)).toBeGreaterThan(0);
    expect(await inspect.pttl(`chat:node:${a.nodeId}:conns`)).toBeGreaterThan(0);
  });
});

describe("a list read while Redis is away", () => {
  it("says it is partial, lists this node's users only, and logs why at warn", async () => {
    const own = await scope.redis();
    const [here, there] = await Promise.all([scope.node(env(own)), scope.node(env(own))]);
    const mine = await scope.user(here);
    const theirs = await scope.user(there);
    const watcher = await scope.user(here, "proto=2");
    for (const u of [mine, theirs, watcher]) await joinRoom(u, "apart");
    expect((await joinRoom(mine, "apart")).partial).toBeUndefined();
    await own.stop();
    await expect.poll(async () => (await fetch(`${here.url}/readyz`)).status, { timeout: 5000 }).toBe(503);
    const ref = "while-away";
    await mine.client.send({ action: "users", room: "apart", ref });
    const list = await mine.client.action("users", (f) => f.ref === ref);
    expect(list).toMatchObject({ partial: true, count: 2 });
    expect((list.users as { uid: string }[]).map((x) => x.uid).sort()).toEqual([mine.uid, watcher.uid].sort());
    await here.waitForOutput(/"level":40.*listed a room from this node's users alone/);
    // An arrival meanwhile is counted among this node's users alone, and the frame says so.
    const arriving = await scope.user(here);
    await joinRoom(arriving, "apart");
    const step = await watcher.client.action(
      "presence",
      (f) => f.room === "apart" && JSON.stringify(f.joined).includes(arriving.uid),
    );
    expect(step).toMatchObject({ room: "apart", count: 3, partial: true });
    await own.restart();
    await expect.poll(async () => (await fetch(`${here.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
    let asked = 0;
    const whole = async () => {
      const again = `after-${++asked}`;
      await mine.client.send({ action: "users", room: "apart", ref: again });
      const frame = await mine.client.action("users", (f) => f.ref === again);
      return { partial: frame.partial, count: frame.count };
    };
    await expect.poll(whole, { timeout: 5000 }).toEqual({ partial: undefined, count: 4 });
  });
});

describe("a tick Redis refuses", () => {
  it("is logged at warn, and presence carries on once Redis takes it again", async () => {
    const u = await scope.user(a);
    await joinRoom(u, "refused");
    // Departures kept where no sorted set can be read: this version's, per room, and the one older versions swept.
    const broken = [roomKey("refused", "leaving"), "chat:leaving"];
    for (const key of broken) await inspect.set(key, "not a sorted set");
    scope.defer(() => inspect.del(...broken));
    await a.waitForOutput(/"level":40.*presence tick failed/, 10_000);
    await inspect.del(...broken);
    expect(await listed(u, "refused")).toEqual([u.uid]);
  });
});
