import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUser, historyOf, joinedUser, joinRoom, messagesIn, say, type User } from "./support/chat.js";
import { type NodeProcess, startNode } from "./support/processes.js";
import { type RedisProcess, startRedis } from "./support/redis-servers.js";
import type { Frame } from "./support/sockjs-client.js";

let redis: RedisProcess;
let a: NodeProcess;
let b: NodeProcess;
let embedded: NodeProcess;
const open: User[] = [];

beforeAll(async () => {
  redis = await startRedis();
  // These tests send as fast as the server answers; the rate limit has tests of its own.
  const env = { REDIS_URL: redis.url, HISTORY_SIZE: "20", RATE_LIMIT: "0" };
  [a, b, embedded] = await Promise.all([
    startNode(env),
    startNode(env),
    startNode({ HISTORY_SIZE: "20", RATE_LIMIT: "0" }),
  ]);
});
afterAll(async () => {
  for (const u of open) u.client.close();
  await Promise.all([a?.stop(), b?.stop(), embedded?.stop()]);
  await redis?.stop();
});

async function user(node: NodeProcess, query?: string): Promise<User> {
  const u = query ? await connectUser(node.url, { query }) : await joinedUser(node.url);
  open.push(u);
  return u;
}

const texts = (messages: Frame[]) => messages.map((m) => m.message);

describe("recovery across nodes (Redis)", () => {
  it("replays exactly the missed messages, in order, to a client that comes back on another node", async () => {
    const sender = await user(b);
    await joinRoom(sender, "resume");
    const reader = await user(a, "lobby=0");
    const joined = await historyOf(reader, "resume", { action: "join" });
    const epoch = joined.epoch;
    const seen = await say(sender, "seen", "resume");
    await reader.client.action("message", (f) => f.mid === seen);
    reader.client.close();

    const missed: number[] = [];
    for (let i = 1; i <= 5; i++) missed.push(await say(sender, `missed ${i}`, "resume"));

    const back = await user(b, "lobby=0");
    const replay = await historyOf(back, "resume", { action: "join", since: seen, epoch });
    expect(replay.recovered).toBe(true);
    expect(texts(replay.messages as Frame[])).toEqual(["missed 1", "missed 2", "missed 3", "missed 4", "missed 5"]);
    expect((replay.messages as Frame[]).map((m) => m.mid)).toEqual(missed);
    const live = await say(sender, "live again", "resume");
    await back.client.action("message", (f) => f.mid === live);
    expect(back.client.all("message").map((f) => f.mid)).toEqual([live]);
  });

  it("says recovered: false when history no longer reaches back", async () => {
    const sender = await user(a);
    await joinRoom(sender, "forgetful");
    const first = await say(sender, "first", "forgetful");
    for (let i = 0; i < 250; i++) await say(sender, `filler ${i}`, "forgetful");
    const late = await user(b, "lobby=0");
    const replay = await historyOf(late, "forgetful", { action: "join", since: first });
    expect(replay.recovered).toBe(false);
    const got = replay.messages as Frame[];
    expect(got.length).toBe(20);
    expect(got.at(-1)?.message).toBe("filler 249");
  });

  it("says recovered: false for a since from another epoch", async () => {
    const sender = await user(a);
    await joinRoom(sender, "epochs");
    const mid = await say(sender, "x", "epochs");
    const other = await user(b, "lobby=0");
    const replay = await historyOf(other, "epochs", { action: "join", since: mid, epoch: "not-this-one" });
    expect(replay.recovered).toBe(false);
  });

  it("sends history then live messages with no gap and no duplicate, while messages keep coming", async () => {
    const sender = await user(a);
    await joinRoom(sender, "busy");
    let sending = true;
    let sent = 0;
    const flood = (async () => {
      while (sending) {
        await say(sender, `busy ${sent}`, "busy");
        sent++;
      }
    })();
    await expect.poll(() => sent).toBeGreaterThan(10);
    const joiners = await Promise.all([user(a, "lobby=0"), user(b, "lobby=0")]);
    await Promise.all(joiners.map((j) => historyOf(j, "busy", { action: "join" })));
    // Messages kept coming after each join was answered: the live tail is not empty.
    const answered = sent;
    await expect.poll(() => sent).toBeGreaterThan(answered + 10);
    sending = false;
    await flood;
    const last = await say(sender, "done", "busy");
    for (const j of joiners) {
      await j.client.action("message", (f) => f.mid === last);
      const history = j.client.all("history")[0]?.messages as Frame[];
      const live = j.client.all("message");
      // The join fell in the middle of the traffic: both halves hold messages, and they meet without a seam.
      expect(history.length).toBeGreaterThan(0);
      expect(live.length).toBeGreaterThan(5);
      const mids = [...history, ...live].map((m) => Number(m.mid));
      expect(mids).toEqual(Array.from({ length: mids.length }, (_, i) => mids[0]! + i));
      expect(mids.at(-1)).toBe(last);
    }
  });
});

describe.each([
  ["Redis", () => [a, b] as const],
  ["embedded", () => [embedded, embedded] as const],
])("history paging (%s)", (_name, nodes) => {
  it("pages backwards through what was stored, in order, and stops at the start", async () => {
    const [n1, n2] = nodes();
    const room = `pages-${Math.floor(Math.random() * 1e6)}`;
    const sender = await user(n1);
    await joinRoom(sender, room);
    const sent: string[] = [];
    for (let i = 0; i < 15; i++) {
      sent.push(`page ${i}`);
      await say(sender, `page ${i}`, room);
    }
    const reader = await user(n2, "lobby=0");
    const joined = await historyOf(reader, room, { action: "join" });
    expect(texts(joined.messages as Frame[])).toEqual(sent);
    expect(joined.more).toBe(false);

    const pages: unknown[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = await historyOf(reader, room, { action: "history", before, limit: 4 });
      const msgs = page.messages as Frame[];
      pages.unshift(texts(msgs));
      if (!page.more) break;
      before = Number(msgs[0]?.mid);
    }
    expect(pages.map((p) => p.length)).toEqual([3, 4, 4, 4]);
    expect(pages.flat()).toEqual(sent);
  });
});

describe.each(["embedded", "Redis"])("a history that started over (%s)", (mode) => {
  it("gives a client that rejoins with the old epoch every message of the new one, the first included", async () => {
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const store = mode === "Redis" ? await startRedis() : undefined;
      if (store) cleanups.push(() => store.stop());
      const env: Record<string, string> = store ? { REDIS_URL: store.url } : {};
      let node = await startNode(env, "reserved");
      cleanups.push(() => node.stop());
      const room = "restarted";
      const alice = await user(node, "lobby=0");
      const bob = await user(node, "lobby=0");
      await historyOf(alice, room, { action: "join" });
      const first = await historyOf(bob, room, { action: "join" });
      const oldEpoch = first.epoch;
      let seen = 0;
      for (let i = 1; i <= 3; i++) seen = await say(alice, `before ${i}`, room);
      await bob.client.action("message", (f) => f.mid === seen && f.room === room);

      // The history is lost: the embedded node restarts, or Redis restarts without persistence.
      alice.client.close();
      bob.client.close();
      if (store) {
        const resubscribed = () => node.output().split("subscribed to Redis").length;
        const before = resubscribed();
        await store.stop();
        await store.restart();
        await expect.poll(resubscribed, { timeout: 15_000 }).toBeGreaterThan(before);
      } else {
        const port = node.port;
        await node.stop();
        node = await startNode(env, port);
      }

      const alice2 = await user(node, "lobby=0");
      const aliceBack = await historyOf(alice2, room, { action: "join", since: seen, epoch: oldEpoch });
      expect(aliceBack.recovered).toBe(false);
      expect(aliceBack.epoch).not.toBe(oldEpoch);
      const newFirst = await say(alice2, "first of the new history", room);
      expect(newFirst).toBe(1);

      const bob2 = await user(node, "lobby=0");
      const bobBack = await historyOf(bob2, room, { action: "join", since: seen, epoch: oldEpoch });
      expect(bobBack.recovered).toBe(false);
      expect(texts(bobBack.messages as Frame[])).toEqual(["first of the new history"]);
      // And traffic after the rejoin arrives live, right after what the history held.
      const next = await say(alice2, "after the rejoin", room);
      expect(next).toBe(2);
      const live = await bob2.client.action("message", (f) => f.mid === next && f.room === room);
      expect(live.message).toBe("after the rejoin");
    } finally {
      for (const c of cleanups.reverse()) await c();
    }
  }, 60_000);
});

describe.each([
  ["Redis", () => [a, b] as const],
  ["embedded", () => [embedded, embedded] as const],
])("sending again after a lost connection (%s)", (_name, nodes) => {
  it("stores a message sent again under its ref from a new connection once, and acknowledges it with the first mid", async () => {
    const [n1, n2] = nodes();
    const room = `again-${Math.floor(Math.random() * 1e6)}`;
    const watcher = await user(n2, "proto=2&lobby=0");
    await joinRoom(watcher, room);
    for (const action of ["message", "dm"] as const) {
      const sender = await user(n1, "proto=2&lobby=0");
      const send = action === "message" ? { action, room } : { action, to: watcher.uid };
      const text = `once by ${action}`;
      if (action === "message") await joinRoom(sender, room);
      else {
        await watcher.client.send({ action: "join", with: sender.uid, ref: "open" });
        await watcher.client.action("history", (f) => f.ref === "open" && f.with === sender.uid);
      }
      // The first attempt is stored, but its connection drops before the sender hears of it.
      await sender.client.send({ ...send, message: text, ref: "lost-ack" });
      sender.client.close();
      const first = await watcher.client.action(action, (f) => f.message === text);

      const back = await user(n2, `proto=2&lobby=0&guest=${encodeURIComponent(sender.guest ?? "")}`);
      expect(back.uid).toBe(sender.uid);
      if (action === "message") await joinRoom(back, room);
      await back.client.send({ ...send, message: text, ref: "lost-ack" });
      const ack = await back.client.action("ack", (f) => f.ref === "lost-ack");
      expect(ack.mid).toBe(first.mid);
      // Nothing was stored for the resend: the next message takes the next mid, and the watcher saw the text once.
      await back.client.send({ ...send, message: `after ${action}`, ref: "next" });
      const next = await back.client.action("ack", (f) => f.ref === "next");
      expect(next.mid).toBe(Number(first.mid) + 1);
      await watcher.client.action(action, (f) => f.mid === next.mid && f.message === `after ${action}`);
      expect(watcher.client.all(action).filter((f) => f.message === text)).toHaveLength(1);
    }
  });

  it("stores what a client sent just before it closed, though the server was still busy with its earlier requests", async () => {
    const [n1, n2] = nodes();
    const room = `closing-${Math.floor(Math.random() * 1e6)}`;
    const watcher = await user(n2, "lobby=0");
    await joinRoom(watcher, room);
    const sender = await user(n1, "proto=2&lobby=0");
    await joinRoom(sender, room);
    // Rooms to join first, each some work (and, with Redis, round trips) that the message waits behind.
    const joins = Array.from({ length: 10 }, (_, i) => JSON.stringify({ action: "join", room: `${room}-${i}` }));
    const text = "sent as the tab closed";
    await sender.client.sendFrame([...joins, JSON.stringify({ action: "message", room, message: text })]);
    sender.client.close();
    await watcher.client.action("message", (f) => f.message === text && f.uid === sender.uid);
  });

  it("keeps each action's refs apart: a reaction under a message's ref is stored", async () => {
    const [n1, n2] = nodes();
    const room = `spaces-${Math.floor(Math.random() * 1e6)}`;
    const watcher = await user(n2, "lobby=0");
    await joinRoom(watcher, room);
    const sender = await user(n1, "proto=2&lobby=0");
    await joinRoom(sender, room);
    await sender.client.send({ action: "message", room, message: "react to me", ref: "shared" });
    const sent = await sender.client.action("ack", (f) => f.ref === "shared" && f.of === "message");
    await sender.client.send({ action: "react", room, mid: sent.mid, emoji: "🎉", ref: "shared" });
    const reacted = await sender.client.action("ack", (f) => f.ref === "shared" && f.of === "react");
    expect(reacted.mid).toBe(Number(sent.mid) + 1);
    const seen = await watcher.client.action("react", (f) => f.room === room);
    expect(seen).toMatchObject({ mid: reacted.mid, target: sent.mid, emoji: "🎉", on: true, uid: sender.uid });
  });
});

describe("a node's subscription lost before its first live message (Redis)", () => {
  it("still gives its member every message, in order, once: the gap is read from where the join left the room", async () => {
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const store = await startRedis();
      cleanups.push(() => store.stop());
      const inspect = new Redis(store.url, { maxRetriesPerRequest: 1 });
      cleanups.push(async () => inspect.disconnect());
      // Node A alone first: the one subscriber connection Redis has then is A's.
      const nodeA = await startNode({ REDIS_URL: store.url });
      cleanups.push(() => nodeA.stop());
      const clients = async () =>
        String(await inspect.client("LIST"))
          .trim()
          .split("\n");
      const subscriberOfA = (await clients()).find((line) => line.includes(" name=chat-sub "));
      const subscriberId = subscriberOfA?.match(/^id=(\d+) /)?.[1];
      expect(subscriberId).toBeDefined();
      const nodeB = await startNode({ REDIS_URL: store.url });
      cleanups.push(() => nodeB.stop());

      const room = "first-gap";
      const sender = await user(nodeB, "lobby=0");
      await joinRoom(sender, room);
      const before = await say(sender, "before the reader", room);
      const reader = await user(nodeA, "lobby=0");
      const joined = await historyOf(reader, room, { action: "join" });
      expect(joined.top).toBe(before);

      // A's subscription drops, and stays away (Redis takes no new connection) while B publishes.
      const resubscribed = () => nodeA.output().split("subscribed to Redis").length;
      const subscriptions = resubscribed();
      await inspect.client("KILL", "ID", subscriberId ?? "");
      // On a loaded machine the close can take its time to reach the node, as the resubscription below.
      await nodeA.waitForOutput(/lost the connection to Redis/, 15_000);
      const [, maxClients] = (await inspect.config("GET", "maxclients")) as [string, string];
      await inspect.config("SET", "maxclients", String((await clients()).length));
      const missed = [await say(sender, "missed 1", room), await say(sender, "missed 2", room)];
      await inspect.config("SET", "maxclients", maxClients);
      await expect.poll(resubscribed, { timeout: 15_000 }).toBeGreaterThan(subscriptions);

      const live = await say(sender, "live", room);
      await reader.client.action("message", (f) => f.mid === live);
      const got = messagesIn(reader, room);
      expect(got.map((f) => f.message)).toEqual(["missed 1", "missed 2", "live"]);
      expect(got.map((f) => f.mid)).toEqual([...missed, live]);
    } finally {
      for (const c of cleanups.reverse()) await c();
    }
  }, 60_000);
});
