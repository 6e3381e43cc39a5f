/**
 * Redis and PostgreSQL together (REDIS_URL + DATABASE_URL, two node
 * processes): Redis stays the hot path, and every acknowledged message is
 * carried into the database, once, in mid order, through a node killed with
 * SIGKILL and a database stopped in the middle of traffic.
 *
 * The outage lasts ARCHIVE_OUTAGE_MS (default 15 s, so the suite stays
 * within its time; the 60 s is ARCHIVE_OUTAGE_MS=60000).
 */
import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { RedisKeys } from "../src/redis/redis-keys.js";
import { connectUser, joinedUser, joinRoom, say, type User } from "./support/chat.js";
import { type PostgresProcess, startPostgres } from "./support/postgres.js";
import type { NodeProcess } from "./support/processes.js";
import { type RedisProcess, startRedis } from "./support/redis-servers.js";
import { perFile, perTest } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const OUTAGE_MS = Number(process.env.ARCHIVE_OUTAGE_MS ?? 15_000);
const WINDOW = 20;

const shared = perFile();
const scope = perTest();
let postgres: PostgresProcess;
let redis: RedisProcess;
let databases = 0;

beforeAll(async () => {
  postgres = await startPostgres();
  shared.defer(() => postgres.remove());
  redis = await shared.redis();
});

/** A database of its own, and what a node needs to run on it with the shared Redis. */
async function setup(): Promise<{ env: Record<string, string>; database: string }> {
  const database = `carry_${++databases}`;
  const env = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: database,
    DATABASE_URL: await postgres.createDatabase(database),
    RATE_LIMIT: "0",
    // The outage's traffic is one user's, as fast as the nodes take it.
    WRITE_BYTES_PER_USER: "0",
    WRITE_BYTES_PER_IP: "0",
    HISTORY_SIZE: String(WINDOW),
  };
  return { env, database };
}

/** Two nodes on one Redis and a database of their own. */
async function pair(): Promise<{ a: NodeProcess; b: NodeProcess; database: string }> {
  const { env, database } = await setup();
  const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
  return { a: a as NodeProcess, b: b as NodeProcess, database };
}

async function user(node: NodeProcess, query?: string): Promise<User> {
  const u = query === undefined ? await joinedUser(node.url) : await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

/** The mids a place's messages have in the database, as stored (one row each, by primary key). */
async function archived(database: string, place: string): Promise<number[]> {
  const db = await postgres.client(database);
  try {
    const rows = await db.query("SELECT mid FROM messages WHERE place = $1 ORDER BY mid", [place]);
    return rows.rows.map((r) => Number(r.mid));
  } finally {
    await db.end();
  }
}

/** The reply to a request: a join's is its history frame, a change's its ack. */
async function request(u: User, body: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  const reply =
    body.action === "join" ? "history" : body.action === "history" || body.action === "search" ? body.action : "ack";
  await u.client.send({ ...body, ref });
  return u.client.next((f) => f.ref === ref && (f.action === reply || f.action === "error"), 10_000);
}

async function readyz(node: NodeProcess): Promise<{ status: string; archive?: { behind: number; up: boolean } }> {
  return (await fetch(`${node.url}/readyz`)).json() as Promise<{
    status: string;
    archive?: { behind: number; up: boolean };
  }>;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("the archive behind Redis", () => {
  it("has a message acknowledged on either node within 5 s, and scroll-back reaches the first message through it", async () => {
    const { a, b, database } = await pair();
    const ada = await user(a);
    const bob = await user(b);
    await joinRoom(ada, "dev");
    await joinRoom(bob, "dev");
    const acked: number[] = [];
    for (let i = 1; i <= 3 * WINDOW; i++) acked.push(await say(i % 2 ? ada : bob, `m${i}`, "dev"));
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual(acked);

    // Past Redis's window of WINDOW messages, pages go on from the database, back to the first.
    const cy = await user(b, "proto=2&lobby=0");
    const joined = await request(cy, { action: "join", room: "dev" });
    expect(joined.more).toBe(true);
    let seen = (joined.messages as Frame[]).map((m) => m.message as string);
    let before = (joined.messages as Frame[])[0]?.mid as number;
    for (;;) {
      const page = await request(cy, { action: "history", room: "dev", before, limit: 25 });
      expect(page.action).toBe("history");
      seen = [...(page.messages as Frame[]).map((m) => m.message as string), ...seen];
      if (!page.more) break;
      before = (page.messages as Frame[])[0]?.mid as number;
    }
    expect(seen).toEqual(range(1, 3 * WINDOW).map((i) => `m${i}`));

    // The figures are those of each node's last pass over the rooms.
    await expect.poll(() => a.metrics(), { timeout: 5000, interval: 100 }).toMatch(/^chat_archive_behind_messages 0$/m);
    expect(await a.metrics()).toMatch(/^chat_archive_up 1$/m);
  });

  it("a join with a since older than the window recovers from the database, exactly once and in order", async () => {
    const { a, database } = await pair();
    const ada = await user(a);
    await joinRoom(ada, "dev");
    const first = await say(ada, "seen", "dev");
    const missed: number[] = [];
    for (let i = 0; i < 2 * WINDOW; i++) missed.push(await say(ada, `missed ${i}`, "dev"));
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual([first, ...missed]);
    const epoch = (await request(ada, { action: "join", room: "dev" })).epoch;

    const back = await user(a, "proto=2&lobby=0");
    const replay = await request(back, { action: "join", room: "dev", since: first, epoch });
    expect(replay.recovered).toBe(true);
    expect((replay.messages as Frame[]).map((m) => m.mid)).toEqual(missed);
  });

  it("a room that idles out of Redis continues its mids when used again, and the archive keeps both stretches", async () => {
    const { env, database } = await setup();
    const a = await scope.node({ ...env, ROOM_IDLE_TTL: "1" });
    const ada = await user(a, "proto=2&lobby=0");
    await joinRoom(ada, "quiet");
    const acked: number[] = [];
    for (let i = 0; i < 3; i++) acked.push(await say(ada, `early ${i}`, "quiet"));
    await expect.poll(() => archived(database, "quiet"), { timeout: 5000, interval: 100 }).toEqual(acked);
    const probe = new Redis(redis.url);
    scope.defer(() => probe.quit());
    await expect
      .poll(() => probe.exists(`${database}:{${database}:quiet}:win`), { timeout: 10_000, interval: 100 })
      .toBe(0);

    acked.push(await say(ada, "back again", "quiet"));
    expect(acked).toEqual([1, 2, 3, 4]);
    await expect.poll(() => archived(database, "quiet"), { timeout: 5000, interval: 100 }).toEqual(acked);
    const page = await request(ada, { action: "history", room: "quiet", before: 4 });
    expect((page.messages as Frame[]).map((m) => m.message)).toEqual(["early 0", "early 1", "early 2"]);
  });

  it("a room that Redis lost in a restart without persistence goes on from the archive's mids, and what follows is archived", async () => {
    const own = await startRedis();
    scope.defer(() => own.stop());
    const { env, database } = await setup();
    const a = await scope.node({ ...env, REDIS_URL: own.url });
    const ada = await user(a, "proto=2&lobby=0");
    await joinRoom(ada, "dev");
    const acked: number[] = [];
    for (let i = 0; i < 3; i++) acked.push(await say(ada, `before ${i}`, "dev"));
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual(acked);
    const epoch = (await request(ada, { action: "join", room: "dev" })).epoch;

    // No save, no AOF: Redis comes back empty, the room's counter and epoch gone.
    await own.stop();
    await own.restart();
    // Refused until the node is back on Redis; a refused message is not stored, so it is not counted.
    let after = 0;
    await expect
      .poll(async () => (after = await say(ada, "after 0", "dev").catch(() => 0)), { timeout: 15_000, interval: 200 })
      .toBeGreaterThan(0);
    acked.push(after);
    for (let i = 1; i < 3; i++) acked.push(await say(ada, `after ${i}`, "dev"));
    expect(acked).toEqual([1, 2, 3, 4, 5, 6]);
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual(acked);

    // A newcomer sees the room as one history, under the epoch it had: Redis's part, then the archive's.
    const cy = await user(a, "proto=2&lobby=0");
    const page = await request(cy, { action: "join", room: "dev" });
    expect(page.epoch).toBe(epoch);
    const older = await request(cy, { action: "history", room: "dev", before: 4 });
    expect([...(older.messages as Frame[]), ...(page.messages as Frame[])].map((m) => m.message)).toEqual([
      "before 0",
      "before 1",
      "before 2",
      "after 0",
      "after 1",
      "after 2",
    ]);
  });

  it("edits, reacts to and deletes a message past Redis's window that the archive keeps, for everyone and in the database", async () => {
    const { a, b, database } = await pair();
    const ada = await user(a, "proto=2&lobby=0");
    const bob = await user(b, "proto=2&lobby=0");
    await joinRoom(ada, "dev");
    await joinRoom(bob, "dev");
    const old = await say(ada, "an old typo", "dev");
    const later: number[] = [];
    for (let i = 0; i < 2 * WINDOW; i++) later.push(await say(bob, `later ${i}`, "dev"));
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual([old, ...later]);

    const edit = await request(ada, { action: "edit", room: "dev", mid: old, message: "an old text, fixed" });
    expect(edit.action).toBe("ack");
    // Published like any change: a member on the other node sees it live.
    await bob.client.action("edit", (f) => f.target === old && f.message === "an old text, fixed");
    expect((await request(bob, { action: "react", room: "dev", mid: old, emoji: "👍", on: true })).action).toBe("ack");
    const db = await postgres.client(database);
    scope.defer(() => db.end());
    const row = async () =>
      (await db.query("SELECT text, deleted FROM messages WHERE place = 'dev' AND mid = $1", [old])).rows[0];
    await expect.poll(row, { timeout: 5000, interval: 100 }).toEqual({ text: "an old text, fixed", deleted: false });
    await expect
      .poll(async () => (await db.query("SELECT uid, emoji FROM reactions WHERE place = 'dev'")).rows.length, {
        timeout: 5000,
        interval: 100,
      })
      .toBe(1);
    // Scroll-back brings the message with its current changes.
    const cy = await user(a, "proto=2&lobby=0");
    await joinRoom(cy, "dev");
    const page = await request(cy, { action: "history", room: "dev", before: old + 1 });
    expect((page.messages as Frame[]).map((m) => [m.mid === old ? "message" : m.action, m.message ?? m.emoji])).toEqual(
      [
        ["message", "an old typo"],
        ["edit", "an old text, fixed"],
        ["react", "👍"],
      ],
    );

    expect((await request(ada, { action: "delete", room: "dev", mid: old })).action).toBe("ack");
    await expect.poll(row, { timeout: 5000, interval: 100 }).toEqual({ text: null, deleted: true });
    const gone = await request(ada, { action: "edit", room: "dev", mid: old, message: "back again?" });
    expect(gone).toMatchObject({ action: "error", code: "no_such_message" });
  });

  it("a message deleted while PostgreSQL is away leaves no text in Redis, and reaches the database as a tombstone", async () => {
    const { env, database } = await setup();
    // A window that still holds the message when it is deleted, 600 messages later.
    const a = await scope.node({ ...env, HISTORY_SIZE: "1000" });
    const ada = await user(a, "proto=2&lobby=0");
    await joinRoom(ada, "dev");
    const before = await say(ada, "kept", "dev");
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual([before]);

    await postgres.stop();
    // Back for the next test even if this one fails before it starts it again.
    scope.defer(() => postgres.start());
    const secret = await say(ada, "hunter2 is my password", "dev");
    expect((await request(ada, { action: "edit", room: "dev", mid: secret, message: "hunter3" })).action).toBe("ack");
    // Enough after it that a carry may split the deletion from its message's place in the stream.
    const after: number[] = [];
    for (let i = 0; i < 600; i++) after.push(await say(ada, `after ${i}`, "dev"));
    const gone = await request(ada, { action: "delete", room: "dev", mid: secret });
    expect(gone.action).toBe("ack");
    const probe = new Redis(redis.url);
    scope.defer(() => probe.quit());
    const carry = await probe.xrange(`${database}:{${database}:dev}:carry`, "-", "+");
    // The message and its edit left the stream with their text; the deletion carries the tombstone.
    expect(carry.length).toBe(after.length + 1);
    expect(JSON.stringify(carry)).not.toMatch(/hunter/);

    await postgres.start();
    await expect
      .poll(() => archived(database, "dev"), { timeout: 15_000, interval: 200 })
      .toEqual([before, secret, ...after]);
    const db = await postgres.client(database);
    scope.defer(() => db.end());
    for (const table of ["messages", "changes", "reactions"]) {
      const rows = await db.query(`SELECT * FROM ${table}`);
      expect(JSON.stringify(rows.rows)).not.toMatch(/hunter/);
    }
    const tomb = await db.query("SELECT text, deleted FROM messages WHERE place = 'dev' AND mid = $1", [secret]);
    expect(tomb.rows).toEqual([{ text: null, deleted: true }]);
    const page = await request(ada, { action: "history", room: "dev", before: secret + 1 });
    expect((page.messages as Frame[]).map((m) => [m.mid, m.action, m.message])).toEqual([
      [before, "message", "kept"],
      [secret, "message", ""],
      [gone.mid, "delete", undefined],
    ]);
  });

  it("an edit or a deletion still on its way to the database already counts: search, scroll-back and recovery never show the old text", async () => {
    const { a, b, database } = await pair();
    const ada = await user(a, "proto=2&lobby=0");
    const bob = await user(b, "proto=2&lobby=0");
    await joinRoom(ada, "dev");
    await joinRoom(bob, "dev");
    const old = await say(ada, "zebra old hunter5", "dev");
    const first = await say(ada, "zebra opening line", "dev");
    const secret = await say(ada, "zebra password hunter2", "dev");
    const typo = await say(ada, "zebra draft", "dev");
    const filler: number[] = [];
    for (let i = 0; i < WINDOW; i++) filler.push(await say(bob, `filler ${i}`, "dev"));
    const recent = await say(ada, "zebra recent hunter9", "dev");
    await expect
      .poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 })
      .toEqual([old, first, secret, typo, ...filler, recent]);
    const { epoch } = await request(ada, { action: "join", room: "dev" });
    const db = await postgres.client(database);
    scope.defer(() => db.end());
    const texts = async (mids: number[]) =>
      (
        await db.query("SELECT mid, text FROM messages WHERE place = 'dev' AND mid = ANY($1) ORDER BY mid", [mids])
      ).rows.map((r) => [Number(r.mid), r.text]);
    // An edit the database has, of a message older than the recovery below asks for.
    expect((await request(ada, { action: "edit", room: "dev", mid: old, message: "zebra old hunter6" })).action).toBe(
      "ack",
    );
    await expect.poll(() => texts([old]), { timeout: 5000, interval: 100 }).toEqual([[old, "zebra old hunter6"]]);

    // A node that took the room's carry and stalled: nothing more of the room reaches the database for now.
    const keys = new RedisKeys(database);
    const probe = new Redis(redis.url);
    scope.defer(() => probe.quit());
    await probe.set(keys.roomCarrier("dev"), "a-stalled-node", "PX", 60_000);
    // Three past Redis's window (the archive holds them), one in it.
    expect((await request(ada, { action: "delete", room: "dev", mid: secret })).action).toBe("ack");
    expect((await request(ada, { action: "edit", room: "dev", mid: typo, message: "zebra final" })).action).toBe("ack");
    expect((await request(ada, { action: "delete", room: "dev", mid: recent })).action).toBe("ack");
    expect((await request(ada, { action: "delete", room: "dev", mid: old })).action).toBe("ack");
    // Nothing puts text back into a message whose deletion the database has not heard of yet.
    const again = await request(ada, { action: "edit", room: "dev", mid: secret, message: "zebra hunter3" });
    expect(again).toMatchObject({ action: "error", code: "no_such_message" });
    expect(await probe.xlen(keys.roomCarry("dev"))).toBe(4);
    expect(await texts([old, secret, typo, recent])).toEqual([
      [old, "zebra old hunter6"],
      [secret, "zebra password hunter2"],
      [typo, "zebra draft"],
      [recent, "zebra recent hunter9"],
    ]);

    const found = async (q: string) =>
      ((await request(bob, { action: "search", q })).hits as Frame[]).map((h) => h.message);
    expect(await found("zebra")).toEqual(["zebra opening line"]);
    expect(await found("hunter2")).toEqual([]);
    expect(await found("draft")).toEqual([]);

    /** What a client shows of a page: each message with its newest edit, deleted ones left out. */
    const shown = (page: Frame) => {
      const entries = page.messages as Frame[];
      const edits = new Map(entries.filter((e) => e.action === "edit").map((e) => [e.target, e.message]));
      const deleted = new Set(entries.filter((e) => e.action === "delete").map((e) => e.target));
      return entries
        .filter((e) => e.action === "message" && !deleted.has(e.mid))
        .map((e) => edits.get(e.mid) ?? e.message);
    };
    const cy = await user(b, "proto=2&lobby=0");
    await request(cy, { action: "join", room: "dev" });
    const page = await request(cy, { action: "history", room: "dev", before: filler[2], limit: 10 });
    expect(JSON.stringify(page)).not.toMatch(/hunter/);
    expect(shown(page)).toEqual(["zebra opening line", "zebra final", "filler 0", "filler 1"]);
    const back = await user(a, "proto=2&lobby=0");
    const replay = await request(back, { action: "join", room: "dev", since: first, epoch });
    expect(replay.recovered).toBe(true);
    expect(JSON.stringify(replay)).not.toMatch(/hunter/);
    expect(shown(replay)).toEqual(["zebra final", ...filler.map((_, i) => `filler ${i}`)]);

    // Once the carry goes on, the database says it all itself, and the changes are let go of soon after.
    await probe.del(keys.roomCarrier("dev"));
    await expect
      .poll(() => texts([old, secret, typo, recent]), { timeout: 5000, interval: 100 })
      .toEqual([
        [old, null],
        [secret, null],
        [typo, "zebra final"],
        [recent, null],
      ]);
    expect(await found("zebra")).toEqual(["zebra final", "zebra opening line"]);
    const linger = await probe.pttl(keys.roomCarryChanges("dev"));
    expect(linger).toBeGreaterThan(0);
    expect(linger).toBeLessThanOrEqual(10_000);
  });

  it("shows no message older than RETENTION_DAYS, from Redis's window either", async () => {
    const { env, database } = await setup();
    const a = await scope.node({ ...env, RETENTION_DAYS: "2" });
    const ada = await user(a, "proto=2&lobby=0");
    await joinRoom(ada, "dev");
    const old = [await say(ada, "old 0", "dev"), await say(ada, "old 1", "dev")];
    const recent = [await say(ada, "recent 0", "dev"), await say(ada, "recent 1", "dev")];
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual([...old, ...recent]);
    // Three days ago, in Redis's window and in the database, as they would hold them had they been written then.
    const then = Date.now() - 3 * 86_400_000;
    const keys = new RedisKeys(database);
    const probe = new Redis(redis.url);
    scope.defer(() => probe.quit());
    for (const mid of old) {
      const bundle = (await probe.hget(keys.roomWindow("dev"), String(mid))) ?? "";
      expect(bundle).toMatch(/^\d+\t/);
      await probe.hset(keys.roomWindow("dev"), String(mid), bundle.replace(/^\d+/, String(then)));
    }
    const db = await postgres.client(database);
    scope.defer(() => db.end());
    await db.query("UPDATE messages SET ts = $1 WHERE place = 'dev' AND mid = ANY($2)", [then, old]);

    const cy = await user(a, "proto=2&lobby=0");
    const joined = await request(cy, { action: "join", room: "dev" });
    expect((joined.messages as Frame[]).map((m) => m.message)).toEqual(["recent 0", "recent 1"]);
    const older = await request(cy, { action: "history", room: "dev", before: recent[0] });
    expect(older).toMatchObject({ messages: [], more: false });
    expect((await request(cy, { action: "search", q: "old" })).hits).toEqual([]);
  });

  it("answers history and recovery of any shape past the window with a page or bad_request, never internal", async () => {
    const { a, database } = await pair();
    const ada = await user(a, "proto=2&lobby=0");
    await joinRoom(ada, "dev");
    for (let i = 0; i < 2 * WINDOW; i++) await say(ada, `m${i}`, "dev");
    await expect.poll(async () => (await archived(database, "dev")).length, { timeout: 5000 }).toBe(2 * WINDOW);
    const shapes = [-1, 0, 1, 2, 1.5, "7", null, 1e20, 2 ** 53, -1e300, 2 * WINDOW + 1, "9007199254740993"];
    const asks = [
      ...shapes.map((before) => ({ action: "history", room: "dev", before })),
      ...shapes.map((since) => ({ action: "join", room: "dev", since })),
      ...shapes.map((since) => ({ action: "join", room: "dev", since, epoch: "not-this-one" })),
      { action: "history", room: "dev", before: 5, limit: 1000 },
    ];
    for (const ask of asks) {
      const reply = await request(ada, ask);
      if (reply.action === "error") expect(reply.code, JSON.stringify(ask)).toBe("bad_request");
      else for (const m of reply.messages as Frame[]) expect(typeof m.mid, JSON.stringify(ask)).toBe("number");
    }
    expect(await say(ada, "still here", "dev")).toBe(2 * WINDOW + 1);
  });

  it("stores every acknowledged message once when the node that stored it is killed right after the ack", async () => {
    const { env, database } = await setup();
    const a = await scope.node(env);
    const ada = await user(a);
    await joinRoom(ada, "dev");
    const acked = [await say(ada, "opens the room", "dev")];
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual(acked);

    // With the database away, the node killed is the one that stored and acknowledged the last
    // messages and the only one that could have carried them: they reach the database through
    // a node started after the kill, or not at all.
    await postgres.stop();
    // Back for the next test even if this one fails before it starts it again.
    scope.defer(() => postgres.start());
    for (let i = 0; i < 200; i++) acked.push(await say(ada, `before the kill ${i}`, "dev"));
    await a.kill();
    const probe = new Redis(redis.url);
    scope.defer(() => probe.quit());
    // Nobody else took the room: its lease is still the dead node's, or lapsed (a node only asks a
    // database that is away whether it is back, and renews no lease meanwhile: 3 s after the first
    // refusal the lease is gone, which 200 messages on a busy machine can outlast).
    expect([a.nodeId, null]).toContain(await probe.get(`${database}:{${database}:dev}:carrier`));
    expect(await probe.xlen(`${database}:{${database}:dev}:carry`)).toBe(200);
    await postgres.start();
    const b = await scope.node(env);

    await expect.poll(() => archived(database, "dev"), { timeout: 15_000, interval: 200 }).toEqual(acked);
    const bob = await user(b);
    await joinRoom(bob, "dev");
    const next = await say(bob, "after the kill", "dev");
    expect(next).toBe(202);
    await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual([...acked, next]);
  });

  it(
    "goes on while PostgreSQL is stopped, answers unavailable past the window, says it is behind, and catches up exactly",
    async () => {
      const { a, b, database } = await pair();
      const ada = await user(a);
      const bob = await user(b);
      await joinRoom(ada, "dev");
      await joinRoom(bob, "dev");
      const acked: number[] = [];
      for (let i = 0; i < WINDOW; i++) acked.push(await say(ada, `before ${i}`, "dev"));
      await expect.poll(() => archived(database, "dev"), { timeout: 5000, interval: 100 }).toEqual(acked);

      await postgres.stop();
      // Back for the next test even if this one fails before it starts it again.
      scope.defer(() => postgres.start());
      const outageEnds = Date.now() + OUTAGE_MS;
      // Traffic through the outage: each message acknowledged on A, and delivered live on B.
      let i = 0;
      const recentEpoch = (await request(bob, { action: "join", room: "dev" })).epoch;
      while (Date.now() < outageEnds) {
        const mid = await say(ada, `during ${i++}`, "dev");
        acked.push(mid);
        await bob.client.action("message", (f) => f.mid === mid);
        if (i === 3 * WINDOW) {
          // The hot window still serves a joiner, and a recovery within it.
          const cy = await user(b, "proto=2&lobby=0");
          const joined = await request(cy, { action: "join", room: "dev" });
          expect((joined.messages as Frame[]).at(-1)?.mid).toBe(mid);
          const dan = await user(a, "proto=2&lobby=0");
          const recovered = await request(dan, { action: "join", room: "dev", since: mid - 5, epoch: recentEpoch });
          expect(recovered.recovered).toBe(true);
          expect((recovered.messages as Frame[]).map((m) => m.mid)).toEqual(range(mid - 4, mid));
          // Scroll-back past the window needs the database.
          const page = await request(cy, { action: "history", room: "dev", before: mid - WINDOW + 1 });
          expect(page).toMatchObject({ action: "error", code: "unavailable" });
          // Both nodes say how far behind the archive is.
          await expect
            .poll(async () => (await readyz(b)).archive, { timeout: 5000, interval: 100 })
            .toEqual({ behind: 3 * WINDOW, up: false });
          expect((await readyz(b)).status).toBe("ready");
          await expect
            .poll(() => a.metrics(), { timeout: 5000, interval: 100 })
            .toMatch(new RegExp(`^chat_archive_behind_messages ${3 * WINDOW}$`, "m"));
          expect(await a.metrics()).toMatch(/^chat_archive_up 0$/m);
        }
      }
      expect(i).toBeGreaterThan(3 * WINDOW);
      await postgres.start();

      await expect
        .poll(() => archived(database, "dev"), { timeout: 15_000 + OUTAGE_MS / 2, interval: 200 })
        .toEqual(acked);
      await expect
        .poll(async () => (await readyz(a)).archive, { timeout: 5000, interval: 100 })
        .toEqual({ behind: 0, up: true });
    },
    120_000 + OUTAGE_MS,
  );
});
