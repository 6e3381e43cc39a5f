/**
 * Every action the protocol defines (requestSchemas, so an action added later
 * is fuzzed from the day it exists), with fields that pass its schema more
 * often than not: values the chat itself handed out (rooms, mids, users,
 * epochs, cursors, invitation tokens) mixed with edge values and junk. Where
 * fuzz.test.ts mostly meets the schemas' refusals, this reaches the handlers
 * and what is behind them: SQLite's search syntax, Redis's scripts,
 * PostgreSQL's queries. The fuzzer is a guest like any other; what it must
 * not do is crash a node, get `internal`, or change what belongs to someone else.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { REACTIONS, requestSchemas, SANCTION_MAX_SECONDS } from "../src/protocol/requests.js";
import { AccountClient } from "./support/accounts.js";
import { ask, connectUser, historyOf, joinRoom, say, type User } from "./support/chat.js";
import { startPostgres } from "./support/postgres.js";
import type { NodeProcess } from "./support/processes.js";
import { startCluster } from "./support/redis-servers.js";
import { perTest } from "./support/scope.js";
import { testSeed } from "./support/seed.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perTest();

/** What the chat has handed out so far: the fuzzer draws its fields from these, and they grow as it is answered. */
interface Pools {
  rooms: string[];
  users: string[];
  mids: number[];
  epochs: string[];
  cursors: string[];
  tokens: string[];
}

const TEXTS = [
  "hello",
  "",
  "   ",
  "x".repeat(5000),
  "\u0007bell",
  "abc\u202edef",
  "half \ud800",
  "😀 🎉 語",
  "<script>alert(1)</script>",
  "'; DROP TABLE messages; --",
  // Search syntax, of SQLite's FTS5 and PostgreSQL's tsquery alike.
  '"unclosed',
  "a* OR b*",
  "NEAR(a b, 2)",
  "col:value",
  "^start",
  "a & !b | c:*",
  "(((",
  "-",
  "%_\\",
  "https://example.com/x?y=<z>",
];
const ODD_ROOMS = [
  "nowhere",
  "LOBBY",
  "r".repeat(64),
  "r".repeat(300),
  "Ünïcödé",
  "a b",
  "",
  "~",
  "x~y",
  "../etc",
  "r\ud800",
];
const ODD_USERS = ["g-nobody", "x.y", "a".repeat(128), "a".repeat(129), "", "__proto__", "g-\ud800", "a-\udfff"];
const ODD_NUMBERS = [0, 1, -1, 2 ** 31, 2 ** 53 - 1, 2 ** 53, 1.5, Number.MAX_VALUE];
const JUNK: unknown[] = [null, true, "1", [], {}, { __proto__: { admin: true } }, 1e308, -0];

/** A value for field `key` of a request: from what the chat handed out, an edge value, or junk. */
function valueFor(key: string, pick: <T>(xs: readonly T[]) => T, pools: Pools, junk: boolean): unknown {
  if (junk) return pick(JUNK);
  // Mostly what the chat handed out, so that most requests pass their schema and reach a handler.
  const mostly = <T>(good: readonly T[], odd: readonly T[]): T =>
    good.length > 0 && pick([0, 1, 2]) > 0 ? pick(good) : pick([...good, ...odd]);
  switch (key) {
    case "room":
      return mostly(pools.rooms, ODD_ROOMS);
    case "with":
    case "to":
    case "user":
    case "uid":
      return mostly(pools.users, ODD_USERS);
    case "target":
      return { id: mostly(pools.users, ODD_USERS) };
    case "message":
    case "topic":
    case "reason":
    case "name":
    case "q":
      return pick(TEXTS);
    case "mid":
    case "since":
    case "around":
      return mostly(pools.mids, ODD_NUMBERS);
    case "before":
      // A mid for `history`, a cursor for `search`, `modlog` and `reports`: either, to each.
      return mostly([...pools.mids, ...pools.cursors], ODD_NUMBERS);
    case "epoch":
      return mostly(pools.epochs, ["", "x", "e".repeat(64), "e".repeat(65)]);
    case "after":
      return mostly(pools.cursors, ["", "0", "abc", "WyJ9", "a".repeat(256)]);
    case "limit":
      return pick([1, 50, 100, 101, 0, -1, 1.5]);
    case "seconds":
      return pick([1, 60, 3600, 3601, 0, -1, SANCTION_MAX_SECONDS, SANCTION_MAX_SECONDS + 1]);
    case "visibility":
      return pick(["public", "private", "readonly", "secret"]);
    case "role":
      return pick(["moderator", "member", "owner"]);
    case "emoji":
      return pick([...REACTIONS, "x"]);
    case "remove":
      return pick([true, false, "yes"]);
    case "uses":
    case "hours":
      return pick([1, 5, 720, 721, 1000, 1001, 0]);
    case "token":
    case "ticket":
    case "guest":
      return mostly(pools.tokens, ["x", "a".repeat(256), "a".repeat(8193), "eyJhbGciOiJub25lIn0.e30."]);
    case "ref":
      return mostly(["r", 7, "x".repeat(64)], ["x".repeat(65)]);
    default:
      return pick(TEXTS);
  }
}

const ACTIONS = Object.keys(requestSchemas) as (keyof typeof requestSchemas)[];

/** The action's fields, and whether each may be left out. */
function fieldsOf(action: keyof typeof requestSchemas): [string, boolean][] {
  const shape = (requestSchemas[action] as unknown as { shape: Record<string, z.ZodType> }).shape;
  return Object.entries(shape)
    .filter(([key]) => key !== "action")
    .map(([key, schema]) => [key, schema.safeParse(undefined).success]);
}

/** Takes up what a reply hands out, for later requests to use. */
function learn(f: Frame, pools: Pools): void {
  const add = <T>(xs: T[], x: unknown, ok: (x: unknown) => x is T) => {
    if (ok(x) && !xs.includes(x) && xs.length < 200) xs.push(x);
  };
  const isString = (x: unknown): x is string => typeof x === "string" && x.length > 0;
  const isMid = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x > 0;
  if (f.action === "room" || f.action === "history") add(pools.rooms, f.room, isString);
  if (f.action === "ack") add(pools.mids, f.mid, isMid);
  if (f.action === "history") add(pools.epochs, f.epoch, isString);
  if (f.action === "invite_link") add(pools.tokens, f.token, isString);
  if (f.next !== undefined) add(pools.cursors, String(f.next), isString);
}

/** Everything the fuzz run must leave as it found it: another user's messages, rooms and private room. */
interface Belongings {
  owner: User;
  said: { mid: number; text: string; where: string }[];
  room: Frame;
  secret: string;
}

async function belongingsOf(owner: User, fuzzerUid: string): Promise<Belongings> {
  const room = await ask(owner, { action: "room_create", name: "Owned Elsewhere", topic: "mine" });
  expect(room.action).toBe("room");
  const secret = await ask(owner, { action: "room_create", name: "Hidden", visibility: "private" });
  expect(secret.action).toBe("room");
  await joinRoom(owner, String(room.room));
  const said: { mid: number; text: string; where: string }[] = [];
  for (const [text, where] of [
    ["the owner's first", "lobby"],
    ["the owner's second", String(room.room)],
  ] as const) {
    said.push({ mid: await say(owner, text, where), text, where });
  }
  // A conversation the fuzzer is in, so that `with` reaches a real one.
  const dm = await ask(owner, { action: "dm", to: fuzzerUid, message: "hello fuzzer" });
  expect(dm.action).toBe("ack");
  return { owner, said, room, secret: String(secret.room) };
}

async function fuzz(
  fuzzer: User,
  again: () => Promise<User>,
  pools: Pools,
  seed: number,
): Promise<Map<string, number>> {
  const codes = new Map<string, number>();
  let user = fuzzer;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(), { minLength: 24, maxLength: 24 })), {
        minLength: 10,
        maxLength: 30,
      }),
      async (plan) => {
        const sent: string[] = [];
        for (const [which, dice] of plan) {
          let roll = 0;
          const next = () => dice[roll++ % dice.length] as number;
          const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length] as T;
          const action = ACTIONS[which % ACTIONS.length] as string;
          const request: Record<string, unknown> = { action };
          for (const [key, optional] of fieldsOf(action as keyof typeof requestSchemas)) {
            const d = next() % 20;
            if (optional && d < 6) continue;
            request[key] = valueFor(key, pick, pools, d === 19);
          }
          // `room` or `with`, seldom both.
          if ("room" in request && "with" in request && next() % 5 > 0) delete request[next() % 2 ? "room" : "with"];
          sent.push(JSON.stringify(request));
        }
        const marker = `marker-${Math.random()}`;
        sent.push(JSON.stringify({ action: "ping", ref: marker }));
        const start = user.client.frames.length;
        // Under the flood guard's 60 a frame, as a client may send them.
        await user.client.sendFrame(sent);
        const answered = user.client.next((f) => f.ref === marker, 15_000, "the marker's pong");
        const closed = user.client.waitClosed(15_000);
        const outcome = await Promise.race([answered.then(() => "answered"), closed.then(() => "closed")]);
        const replies = user.client.frames.slice(start);
        for (const f of replies) {
          learn(f, pools);
          if (f.action === "error") codes.set(String(f.code), (codes.get(String(f.code)) ?? 0) + 1);
        }
        const internal = replies.filter((f) => f.action === "error" && f.code === "internal");
        expect(internal, `in reply to ${JSON.stringify(sent)}`).toEqual([]);
        if (outcome === "closed") {
          // An `auth` with a token that does not hold may end the connection: the fuzzer comes back as itself.
          const how = user.client.closed;
          expect(how?.code, `closed after ${JSON.stringify(sent)}`).toBeGreaterThanOrEqual(4000);
          codes.set(`closed ${how?.code}`, (codes.get(`closed ${how?.code}`) ?? 0) + 1);
          user = await again();
        }
      },
    ),
    { numRuns: 80, seed },
  );
  return codes;
}

/** The owner's messages and rooms are as they were, and the fuzzer is not in the private room. */
async function untouched(b: Belongings, fuzzerNode: NodeProcess, fuzzer: User): Promise<void> {
  for (const { mid, text, where } of b.said) {
    const page = await historyOf(b.owner, where, { action: "history", around: mid, limit: 3 });
    // Reactions are anyone's to add; an edit or a deletion is only its author's (or a moderator's).
    const entries = (page.messages as Frame[]).filter(
      (m) => m.mid === mid || (m.target === mid && m.action !== "react"),
    );
    expect(entries, `message ${mid} in ${where}`).toEqual([expect.objectContaining({ mid, message: text })]);
  }
  const rooms = await ask(b.owner, { action: "rooms", q: "Owned" });
  expect(rooms.rooms).toEqual([expect.objectContaining({ room: b.room.room, name: "Owned Elsewhere", topic: "mine" })]);
  const again = await connectUser(fuzzerNode.url, { query: `proto=2&lobby=0&guest=${fuzzer.guest}` });
  scope.defer(() => again.client.close());
  expect(await ask(again, { action: "join", room: b.secret })).toMatchObject({
    action: "error",
    code: "no_such_room",
  });
}

/** The server's admin, signed in: every room's owner, so the fuzz reaches what moderation does, not only its refusals. */
async function admin(n: NodeProcess): Promise<{ user: User; again: () => Promise<User> }> {
  const account = new AccountClient(n.url);
  const made = await account.post("/auth/signup", { name: "Boss", password: "correct horse battery staple" });
  expect(made.status).toBe(200);
  const again = async (): Promise<User> => {
    const { client, first } = await account.connect();
    scope.defer(() => client.close());
    expect(first.action).toBe("user_info");
    return {
      client,
      id: String(first.id),
      uid: String(first.uid),
      name: String(first.name),
      guest: undefined,
      info: first,
    };
  };
  return { user: await again(), again };
}

describe("every action, with the values the chat hands out", () => {
  it.each([
    ["embedded", "a guest"],
    ["Redis and PostgreSQL, two nodes", "a guest"],
    ["embedded", "the admin"],
    ["Redis and PostgreSQL, two nodes", "the admin"],
    ["Redis Cluster and PostgreSQL, two nodes", "a guest"],
    ["Redis Cluster and PostgreSQL, two nodes", "the admin"],
  ])(
    "crashes nothing and answers nothing with internal (%s, fuzzed by %s)",
    async (engine, who) => {
      const limits = {
        RATE_LIMIT: "0",
        WRITE_BYTES_PER_USER: "0",
        WRITE_BYTES_PER_IP: "0",
        ADMIN_USERS: "Boss",
        SIGNUP: "open",
        GUESTS: "1",
      };
      let nodes: NodeProcess[];
      if (engine === "embedded") {
        const n = await scope.node(limits);
        nodes = [n, n];
      } else {
        const pg = await startPostgres();
        scope.defer(() => pg.remove());
        let redisEnv: Record<string, string>;
        if (engine.startsWith("Redis Cluster")) {
          const cluster = await startCluster(3);
          scope.defer(() => cluster.stop());
          redisEnv = { REDIS_CLUSTER_NODES: `redis-cluster://${cluster.seeds}` };
        } else redisEnv = { REDIS_URL: (await scope.redis()).url };
        const env = { ...limits, ...redisEnv, DATABASE_URL: pg.url };
        nodes = [await scope.node(env), await scope.node(env)];
      }
      const [a, b] = nodes as [NodeProcess, NodeProcess];
      const guest = await scope.user(a, "proto=2");
      const { user: fuzzer, again } =
        who === "the admin"
          ? await admin(a)
          : {
              user: guest,
              again: () => scope.user(a, `proto=2&guest=${guest.guest}`),
            };
      const owner = await scope.user(b, "proto=2");
      const bystander = await scope.user(b, "proto=2");
      await joinRoom(fuzzer, "lobby");
      await joinRoom(owner, "lobby");
      await joinRoom(bystander, "lobby");
      const belongings = await belongingsOf(owner, fuzzer.uid);
      const pools: Pools = {
        rooms: ["lobby", String(belongings.room.room), belongings.secret],
        users: [owner.uid, fuzzer.uid, bystander.uid, owner.id],
        mids: belongings.said.map((s) => s.mid),
        epochs: [],
        cursors: [],
        tokens: [],
      };
      // The fuzzer's own room, where it may do what an owner does.
      const own = await ask(fuzzer, { action: "room_create", name: "Fuzzed" });
      learn(own, pools);
      await joinRoom(fuzzer, String(own.room));
      pools.mids.push(await say(fuzzer, "the fuzzer's own", String(own.room)));

      const codes = await fuzz(fuzzer, again, pools, testSeed(`every action (${engine}, ${who})`));
      console.log(`every action (${engine}, ${who}): answers by code ${JSON.stringify(Object.fromEntries(codes))}`);
      // The fuzz reached past the schemas: refusals that only a handler gives.
      expect(
        [...codes.keys()].filter((c) => !["bad_request", "bad_json", "unknown_action"].includes(c)).length,
      ).toBeGreaterThan(5);

      // What is someone else's stays theirs; only the admin, who holds every room, may change it.
      if (who === "a guest") await untouched(belongings, a, fuzzer);
      for (const n of nodes) {
        expect(n.child.exitCode).toBeNull();
        expect((await fetch(`${n.url}/healthz`)).status).toBe(200);
        // And, with a database, it has taken every message the fuzz stored (a carry stuck on one would say so here).
        await expect.poll(async () => (await fetch(`${n.url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
        expect(n.output()).not.toMatch(/"level":(50|60)/);
      }
      // Two newcomers still talk, from one node to the other (the admin may have banned the others anywhere).
      const [late, later] = [await scope.user(a, "proto=2&lobby=0"), await scope.user(b, "proto=2&lobby=0")];
      for (const u of [late, later]) await joinRoom(u, "after-the-fuzz");
      const mid = await say(late, "after the fuzz", "after-the-fuzz");
      expect(await later.client.action("message", (f) => f.mid === mid)).toMatchObject({ message: "after the fuzz" });
    },
    120_000,
  );
});
