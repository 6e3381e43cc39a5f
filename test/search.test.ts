/**
 * `search` and `history {around}` as people use them, the same cases on two
 * setups: the embedded engine (one node, SQLite in DATA_DIR) and two nodes
 * on Redis with PostgreSQL behind it. What a person may find: rooms they
 * are in and their own conversations; never a room left or never joined,
 * another pair's conversation, a deleted message or an edit's old text.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openArchive } from "../src/archive/open-archive.js";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import { type PostgresProcess, startPostgres } from "./support/postgres.js";
import type { NodeProcess } from "./support/processes.js";
import type { RedisProcess } from "./support/redis-servers.js";
import { perFile, perTest } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

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

const BASE = { RATE_LIMIT: "0", WRITE_BYTES_PER_USER: "0", WRITE_BYTES_PER_IP: "0", HISTORY_SIZE: "8" };

interface Setup {
  /** Where each of up to three people connects: the same node, or two nodes in turn. */
  nodes: NodeProcess[];
  /**
   * Resolves once `u`'s search for `q` finds `n` messages: with Redis, what is acknowledged reaches the
   * archive within seconds, in mid order per place, so a last message found means all before it are there.
   */
  settled(u: User, q: string, n: number): Promise<void>;
}

const setups: Record<string, () => Promise<Setup>> = {
  "the embedded engine": async () => {
    const node = await scope.node(BASE);
    return { nodes: [node], settled };
  },
  "two nodes on Redis and PostgreSQL": async () => {
    const database = `search_${++databases}`;
    const env = {
      ...BASE,
      REDIS_URL: redis.url,
      REDIS_PREFIX: database,
      DATABASE_URL: await postgres.createDatabase(database),
    };
    const nodes = await Promise.all([scope.node(env), scope.node(env)]);
    return { nodes, settled };
  },
};

async function settled(u: User, q: string, n: number): Promise<void> {
  await expect.poll(async () => (await hits(u, { q, limit: 50 })).length, { timeout: 10_000 }).toBe(n);
}

async function person(setup: Setup, i: number, name: string): Promise<User> {
  const node = setup.nodes[i % setup.nodes.length] as NodeProcess;
  const u = await connectUser(node.url, { query: "proto=2&lobby=0" });
  scope.defer(() => u.client.close());
  await request(u, { action: "nick", name }, "ack");
  return { ...u, name };
}

/** The reply to a request with a ref: the frame of `reply`, or the error. */
async function request(u: User, body: Record<string, unknown>, reply: string): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await u.client.send({ ...body, ref });
  return u.client.next((f) => f.ref === ref && (f.action === reply || f.action === "error"), 10_000);
}

const search = (u: User, body: Record<string, unknown>) => request(u, { action: "search", ...body }, "search");

interface Hit {
  room?: string;
  with?: string;
  mid: number;
  uid: string;
  name: string;
  message: string;
  matches: [number, number][];
}

async function hits(u: User, body: Record<string, unknown>): Promise<Hit[]> {
  const reply = await search(u, body);
  if (reply.action === "error") throw new Error(`search refused: ${JSON.stringify(reply)}`);
  return reply.hits as Hit[];
}

async function dm(from: User, to: User, message: string): Promise<number> {
  const reply = await request(from, { action: "dm", to: to.uid, message }, "ack");
  if (reply.action === "error") throw new Error(`dm refused: ${JSON.stringify(reply)}`);
  return Number(reply.mid);
}

/** A history page's messages as a client shows them: each with its newest edit applied. */
function current(page: Frame): string[] {
  const entries = page.messages as { action: string; mid: number; target?: number; message?: string }[];
  const edits = new Map(entries.filter((e) => e.action === "edit").map((e) => [e.target, e.message]));
  const deleted = new Set(entries.filter((e) => e.action === "delete").map((e) => e.target));
  return entries
    .filter((e) => e.action === "message" && !deleted.has(e.mid))
    .map((m) => edits.get(m.mid) ?? m.message ?? "");
}

describe.each(Object.keys(setups))("search on %s", (setupName) => {
  const open = () => (setups[setupName] as () => Promise<Setup>)();

  it("finds what one may read, and nothing of a room left, a room never joined, another pair's conversation, a deleted message or an edit's old text", async () => {
    const setup = await open();
    const ada = await person(setup, 0, "Ada");
    const bob = await person(setup, 1, "Bob");
    const carol = await person(setup, 0, "Carol");
    await joinRoom(ada, "dev");
    await joinRoom(bob, "dev");
    await joinRoom(bob, "ops");
    await joinRoom(ada, "old");
    await say(ada, "zebra in the old room", "old");
    await request(ada, { action: "leave", room: "old" }, "left");
    await say(bob, "zebra in ops, where Ada never was", "ops");
    await say(bob, "zebra in dev", "dev");
    const deleted = await say(ada, "zebra password hunter2", "dev");
    const edited = await say(ada, "zebra draft one", "dev");
    await request(ada, { action: "delete", room: "dev", mid: deleted }, "ack");
    await request(ada, { action: "edit", room: "dev", mid: edited, message: "zebra final words" }, "ack");
    await dm(bob, ada, "zebra between Ada and Bob");
    await dm(bob, carol, "zebra between Bob and Carol");
    // Bob, in ops and in both conversations, finds all five once they are all kept.
    await setup.settled(bob, "zebra", 5);
    const shown = async () =>
      (await hits(ada, { q: "zebra" })).map((h) => [
        h.room ?? `with ${h.with === bob.uid ? "Bob" : h.with}`,
        h.message,
      ]);
    await expect.poll(shown, { timeout: 10_000 }).toEqual([
      ["with Bob", "zebra between Ada and Bob"],
      ["dev", "zebra final words"],
      ["dev", "zebra in dev"],
    ]);
    const found = await hits(ada, { q: "zebra" });
    expect(found[2]).toMatchObject({ uid: bob.uid, name: "Bob", matches: [[0, 5]] });
    for (const q of ["hunter2", "password", "draft", "ops", "Carol", "old"]) {
      expect(await hits(ada, { q }), q).toEqual([]);
    }
    // Naming a room or conversation one may not read finds nothing, as a room without a match does.
    expect(await hits(ada, { q: "zebra", room: "ops" })).toEqual([]);
    expect(await hits(ada, { q: "zebra", room: "old" })).toEqual([]);
    expect(await hits(ada, { q: "zebra", with: carol.uid })).toEqual([]);
    expect((await hits(ada, { q: "zebra", with: bob.uid })).map((h) => h.message)).toEqual([
      "zebra between Ada and Bob",
    ]);
  });

  it("reads every operator, accents and case alike, over the wire", async () => {
    const setup = await open();
    const ada = await person(setup, 0, "Ada");
    const bob = await person(setup, 1, "Bob");
    for (const u of [ada, bob]) {
      await joinRoom(u, "dev");
      await joinRoom(u, "ops");
    }
    await say(ada, "Le CAFÉ est prêt", "dev");
    await say(bob, "the build is green", "dev");
    await say(bob, "green is the build", "ops");
    await say(ada, "the build is green on staging", "ops");
    await setup.settled(ada, "build", 3);
    await setup.settled(ada, "cafe", 1);
    const texts = async (q: string) => (await hits(ada, { q })).map((h) => h.message);
    expect(await texts("cafe PRET")).toEqual(["Le CAFÉ est prêt"]);
    expect(await texts('"build is green"')).toEqual(["the build is green on staging", "the build is green"]);
    expect(await texts("build -staging")).toEqual(["green is the build", "the build is green"]);
    expect(await texts('build -"build is"')).toEqual(["green is the build"]);
    expect(await texts("build from:bob")).toEqual(["green is the build", "the build is green"]);
    expect(await texts("build in:#ops")).toEqual(["the build is green on staging", "green is the build"]);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await texts(`build after:${today}`)).length).toBe(3);
    expect(await texts(`build after:${tomorrow}`)).toEqual([]);
    expect(await texts(`build before:${today}`)).toEqual([]);
    // Characters that mean something to a database or a regular expression are text here.
    for (const q of [
      "it's",
      "100%",
      "a_b",
      "back\\slash",
      "a:b",
      "&",
      "|",
      "!",
      "(",
      ")",
      "green:*",
      "gr.*n",
      "b <-> g",
    ]) {
      const reply = await search(ada, { q });
      if (reply.action === "error") expect(reply.code, q).toBe("empty");
    }
    expect((await hits(ada, { q: "green:*" })).length).toBe(3);
  });

  it("refuses a query too long, empty or with a bad date, each with its code", async () => {
    const setup = await open();
    const ada = await person(setup, 0, "Ada");
    const code = async (body: Record<string, unknown>) => {
      const reply = await search(ada, body);
      return reply.action === "error" ? reply.code : "answered";
    };
    expect(await code({ q: "x".repeat(257) })).toBe("too_long");
    expect(await code({ q: "   " })).toBe("empty");
    expect(await code({ q: "from:ada -x" })).toBe("empty");
    expect(await code({ q: "x before:2026-02-30" })).toBe("bad_request");
    expect(await code({ q: "x", before: "not a cursor" })).toBe("bad_request");
    expect(await code({ q: "x", room: "dev", with: ada.uid })).toBe("bad_request");
    expect(await code({ q: "x", limit: 51 })).toBe("bad_request");
    expect(await code({ q: "x" })).toBe("answered");
  });

  it("pages with `next`, newest first, each hit once", async () => {
    const setup = await open();
    const ada = await person(setup, 0, "Ada");
    await joinRoom(ada, "dev");
    for (let i = 1; i <= 23; i++) await say(ada, `page test ${i}`, "dev");
    await setup.settled(ada, "page", 23);
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const reply = await search(ada, { q: "page", limit: 10, before });
      seen.push(...(reply.hits as Hit[]).map((h) => h.message));
      before = reply.next as string | undefined;
      pages++;
    } while (before !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `page test ${23 - i}`));
  });

  it("opens history around a message, past the hot window too, and refuses a deleted or unknown one", async () => {
    const setup = await open();
    const ada = await person(setup, 0, "Ada");
    const bob = await person(setup, 1, "Bob");
    await joinRoom(ada, "dev");
    await joinRoom(bob, "dev");
    const mids: number[] = [];
    for (let i = 1; i <= 30; i++) mids.push(await say(i % 2 ? ada : bob, `line ${i}`, "dev"));
    // Edits and deletions reach only what Redis's window holds: lines 23 to 30 there.
    const edit = { action: "edit", room: "dev", mid: mids[27], message: "line 28, edited" };
    expect(await request(bob, edit, "ack")).toMatchObject({ action: "ack" });
    expect(await request(ada, { action: "delete", room: "dev", mid: mids[28] }, "ack")).toMatchObject({
      action: "ack",
    });
    const end = await say(ada, "the end", "dev");
    await setup.settled(ada, "end", 1);

    // Line 5 is long out of the hot window (HISTORY_SIZE 8) in the Redis setup: the archive has it.
    const old = await request(bob, { action: "history", room: "dev", around: mids[4], limit: 5 }, "history");
    expect(current(old)).toEqual(["line 3", "line 4", "line 5", "line 6", "line 7"]);
    expect(old).toMatchObject({ around: mids[4], more: true, newer: true });
    const recent = await request(bob, { action: "history", room: "dev", around: mids[26], limit: 5 }, "history");
    expect(current(recent)).toEqual(["line 25", "line 26", "line 27", "line 28, edited"]);
    // At the very start and the very end.
    const first = await request(bob, { action: "history", room: "dev", around: mids[0], limit: 5 }, "history");
    expect(first).toMatchObject({ more: false });
    expect(current(first)).toEqual(["line 1", "line 2", "line 3"]);
    const last = await request(bob, { action: "history", room: "dev", around: end, limit: 5 }, "history");
    expect(last).toMatchObject({ newer: false });
    expect(current(last).at(-1)).toBe("the end");

    for (const mid of [mids[28], 10_000]) {
      const refused = await request(bob, { action: "history", room: "dev", around: mid }, "history");
      expect(refused).toMatchObject({ action: "error", code: "no_such_message" });
    }
    const both = await request(bob, { action: "history", room: "dev", around: 3, before: 4 }, "history");
    expect(both).toMatchObject({ action: "error", code: "bad_request" });
  });
});

it("charges a search against the connection's rate budget by the size of its reply, as a history page", async () => {
  // 50 messages of 2,000 characters in the embedded archive, written before the node starts.
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-search-cost-"));
  scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const archive = await openArchive({ kind: "embedded", dataDir: dir });
  for (let mid = 1; mid <= 50; mid++) {
    const frame = {
      action: "message",
      mid,
      room: "dev",
      message: `costly ${"x".repeat(1990)}`,
      id: "c",
      uid: "u",
      name: "Eve",
      ts: Date.now(),
    };
    await archive.append("dev", "e1", { mid, ts: frame.ts, json: JSON.stringify(frame) });
  }
  await archive.close();
  // A join shows one of them, which costs nothing: what is owed afterwards is the search.
  const node = await scope.node({ DATA_DIR: dir, RATE_LIMIT: "1", RATE_BURST: "5", HISTORY_SIZE: "1" });
  const ada = await connectUser(node.url, { query: "proto=2&lobby=0" });
  scope.defer(() => ada.client.close());
  await joinRoom(ada, "dev");
  // 100 KB of hits: a dozen requests' worth, owed at once.
  const reply = await search(ada, { q: "costly", limit: 50 });
  expect((reply.hits as Hit[]).length).toBe(50);
  const next = await request(ada, { action: "ping" }, "pong");
  expect(next).toMatchObject({ action: "error", code: "rate_limited" });
  expect(Number(next.wait)).toBeGreaterThanOrEqual(5);
});

describe("search without an archive", () => {
  it("answers unavailable on Redis without DATABASE_URL, and around a message gone from the window no_such_message", async () => {
    const node = await scope.node({ ...BASE, REDIS_URL: redis.url, REDIS_PREFIX: "no_archive" });
    const setup = { nodes: [node], settled };
    const ada = await person(setup, 0, "Ada");
    await joinRoom(ada, "dev");
    const mids: number[] = [];
    for (let i = 1; i <= 12; i++) mids.push(await say(ada, `line ${i}`, "dev"));
    const reply = await search(ada, { q: "line" });
    expect(reply).toMatchObject({ action: "error", code: "unavailable" });
    expect(String(reply.message)).toMatch(/DATABASE_URL/);
    const gone = await request(ada, { action: "history", room: "dev", around: mids[0] }, "history");
    expect(gone).toMatchObject({ action: "error", code: "no_such_message" });
    const kept = await request(ada, { action: "history", room: "dev", around: mids[10], limit: 3 }, "history");
    expect(current(kept)).toEqual(["line 10", "line 11", "line 12"]);
  });

  it("answers unavailable while PostgreSQL is away, and finds again once it is back", async () => {
    const own = await startPostgres();
    scope.defer(() => own.remove());
    const env = { ...BASE, REDIS_URL: redis.url, REDIS_PREFIX: "db_away", DATABASE_URL: own.url };
    const node = await scope.node(env);
    const setup = { nodes: [node], settled };
    const ada = await person(setup, 0, "Ada");
    await joinRoom(ada, "dev");
    await say(ada, "before the outage", "dev");
    await settled(ada, "outage", 1);
    await own.stop();
    const reply = await search(ada, { q: "outage" });
    expect(reply).toMatchObject({ action: "error", code: "unavailable" });
    await own.start();
    await expect.poll(async () => (await search(ada, { q: "outage" })).action, { timeout: 15_000 }).toBe("search");
    expect((await hits(ada, { q: "outage" })).map((h) => h.message)).toEqual(["before the outage"]);
  });
});
