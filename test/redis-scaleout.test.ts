import net from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUser, joinedUser, joinRoom, messagesIn, say, type User } from "./support/chat.js";
import { allocatePort } from "./support/ports.js";
import { type NodeProcess, runToExit, startNode } from "./support/processes.js";
import { type RedisProcess, startRedis } from "./support/redis-servers.js";

let redis: RedisProcess;
let a: NodeProcess;
let b: NodeProcess;
let inspect: Redis;
const open: User[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, PRESENCE_TTL: "3", PRESENCE_GRACE: "1" };
  [a, b] = await Promise.all([startNode(env), startNode(env)]);
  inspect = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  // It loses its server on purpose during the outage test.
  inspect.on("error", () => undefined);
});
afterAll(async () => {
  for (const u of open) u.client.close();
  inspect?.disconnect();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

async function user(node: NodeProcess): Promise<User> {
  const u = await joinedUser(node.url);
  open.push(u);
  return u;
}

const roomSubscribers = async (room: string) => {
  const [, count] = (await inspect.pubsub("NUMSUB", `chat:{chat:${room}}:msg`)) as [string, number];
  return Number(count);
};

describe("two nodes, one Redis", () => {
  it("gives every node its own id, in health and in connection ids", async () => {
    expect(a.nodeId).not.toBe(b.nodeId);
    const health = (await (await fetch(`${b.url}/healthz`)).json()) as { node: string };
    expect(health.node).toBe(b.nodeId);
    const u = await user(b);
    expect(u.id.startsWith(`${b.nodeId}.`)).toBe(true);
  });

  it("delivers messages to clients on both nodes, in the same order", async () => {
    const onA = await user(a);
    const onB = await user(b);
    const fromA = await user(a);
    const fromB = await user(b);
    const sent: number[] = [];
    for (let i = 0; i < 30; i++) sent.push(await say(i % 2 ? fromA : fromB, `order-${i}`));
    const expected = Array.from({ length: 30 }, (_, i) => `order-${i}`);
    for (const u of [onA, onB, fromA, fromB]) {
      await u.client.action("message", (f) => f.mid === sent.at(-1));
      const got = u.client.all("message").filter((f) => String(f.message).startsWith("order-"));
      expect(got.map((f) => f.message)).toEqual(expected);
      expect(got.map((f) => f.mid)).toEqual(sent);
    }
  });

  it("stores a message sent again with the same ref once, whichever node hears it", async () => {
    const sender = await user(a);
    const onB = await user(b);
    const mids: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const ack = sender.client.waitNew((f) => f.action === "ack" && f.ref === "again");
      await sender.client.send({ action: "message", message: "stored once", ref: "again" });
      mids.push((await ack).mid);
    }
    expect(mids[1]).toBe(mids[0]);
    const marker = await say(sender, "marker after the resend");
    expect(marker).toBe(Number(mids[0]) + 1);
    await onB.client.action("message", (f) => f.mid === marker);
    expect(onB.client.all("message").filter((f) => f.message === "stored once")).toHaveLength(1);
  });

  it("shares rooms across nodes and keeps them apart", async () => {
    const x1 = await user(a);
    const x2 = await user(b);
    const outsider = await user(b);
    await joinRoom(x1, "across");
    const list = await joinRoom(x2, "across");
    expect((list.users as { id: string }[]).map((u) => u.id).sort()).toEqual([x1.id, x2.id].sort());
    await x1.client.action("user_join", (f) => f.id === x2.id && f.room === "across");
    const mid = await say(x2, "room message", "across");
    await x1.client.action("message", (f) => f.mid === mid && f.room === "across");
    const marker = await say(x2, "lobby marker");
    await outsider.client.action("message", (f) => f.mid === marker);
    expect(messagesIn(outsider, "across")).toEqual([]);
  });

  it("routes a private message to a connection on the other node, and to no one else", async () => {
    const sender = await user(a);
    const target = await user(b);
    const bystanderA = await user(a);
    const bystanderB = await user(b);
    await sender.client.send({ action: "pm", target: { id: target.id, user: target.name }, message: "across nodes" });
    expect(await target.client.action("pm")).toMatchObject({ id: sender.id, message: "across nodes" });
    expect(await sender.client.action("pm_sent")).toMatchObject({ target: { id: target.id, name: target.name } });
    const marker = await say(sender, "pm marker");
    for (const u of [bystanderA, bystanderB]) await u.client.action("message", (f) => f.mid === marker);
    expect([...bystanderA.client.all("pm"), ...bystanderB.client.all("pm")]).toEqual([]);
  });

  it("finds a connection on the other node that is in no room, under the name it has now", async () => {
    const sender = await user(a);
    const target = await connectUser(b.url, { query: "lobby=0" });
    open.push(target);
    await target.client.send({ action: "nick", name: "Roomless", ref: "n" });
    await target.client.action("ack", (f) => f.ref === "n");
    await sender.client.send({ action: "pm", target: { id: target.id }, message: "anyone there?", ref: "p" });
    const sent = await sender.client.next((f) => f.ref === "p");
    expect(sent).toMatchObject({ action: "pm_sent", target: { id: target.id, name: "Roomless", user: "Roomless" } });
    expect(await target.client.action("pm")).toMatchObject({
      id: sender.id,
      message: "anyone there?",
      target: { id: target.id, name: "Roomless" },
    });
  });

  it("answers offline for a pm to a connection that left another node", async () => {
    const sender = await user(a);
    const gone = await user(b);
    gone.client.close();
    await sender.client.action("user_left", (f) => f.id === gone.id);
    await sender.client.send({ action: "pm", target: { id: gone.id }, message: "hello?", ref: "p" });
    expect(await sender.client.action("error", (f) => f.ref === "p")).toMatchObject({ code: "offline" });
  });

  it("subscribes a node to a room only while it has a member there", async () => {
    const onA = await user(a);
    expect(await roomSubscribers("sparse")).toBe(0);
    await joinRoom(onA, "sparse");
    expect(await roomSubscribers("sparse")).toBe(1);
    const onB = await user(b);
    await joinRoom(onB, "sparse");
    expect(await roomSubscribers("sparse")).toBe(2);
    await onA.client.send({ action: "leave", room: "sparse", ref: "l" });
    await onA.client.action("left", (f) => f.ref === "l");
    expect(await roomSubscribers("sparse")).toBe(1);
    const channels = (await inspect.pubsub("CHANNELS", "chat:*")) as string[];
    expect(channels).toContain(`chat:{chat:node:${a.nodeId}}`);
    expect(channels).toContain(`chat:{chat:node:${b.nodeId}}`);
    // One subscription per node and room, never one per user.
    expect(await roomSubscribers("lobby")).toBe(2);
  });
});

describe("a node that dies without a word", () => {
  it("has its users removed from every list, with user_left, within the presence TTL", async () => {
    const ttlMs = 3000;
    const c = await startNode({ REDIS_URL: redis.url, PRESENCE_TTL: String(ttlMs / 1000) });
    try {
      const watcher = await user(a);
      await joinRoom(watcher, "vigil");
      const doomed = await joinedUser(c.url);
      await joinRoom(doomed, "vigil");
      await watcher.client.action("user_join", (f) => f.id === doomed.id && f.room === "vigil");
      await c.kill();
      const started = Date.now();
      // Its last beat is at most a TTL old when it is judged dead, on a survivor's next tick (a third of a TTL);
      // two seconds more for the announcement to cross Redis on a busy machine.
      const deadline = ttlMs + ttlMs / 3 + 2000;
      await watcher.client.action("user_left", (f) => f.id === doomed.id && f.room === "vigil", deadline);
      await watcher.client.action("user_left", (f) => f.id === doomed.id && f.room === "lobby", 1000);
      const elapsed = Date.now() - started;
      console.log(`user_left for a SIGKILLed node's user after ${elapsed} ms (PRESENCE_TTL=3 s)`);
      expect(elapsed).toBeLessThan(deadline);
      const list = await joinRoom(watcher, "vigil");
      expect((list.users as { id: string }[]).map((u) => u.id)).toEqual([watcher.id]);
      expect(watcher.client.all("user_left").filter((f) => f.id === doomed.id)).toHaveLength(2);
    } finally {
      await c.kill();
    }
  });
});

describe("a Redis outage", () => {
  it("keeps local chat going, refuses cross-node delivery with 'unavailable', and recovers", async () => {
    const a1 = await user(a);
    const a2 = await user(a);
    const b1 = await user(b);
    // A room of their own, whose members after the outage can be known exactly.
    for (const u of [a1, a2, b1]) await joinRoom(u, "outage");
    const before = await say(a1, "before the outage");
    await b1.client.action("message", (f) => f.mid === before);

    await redis.stop();
    const ready = async (n: NodeProcess) => (await fetch(`${n.url}/readyz`)).status;
    await expect.poll(() => ready(a), { timeout: 5000 }).toBe(503);
    const redisUp = async (n: NodeProcess) => (await n.metrics()).match(/^chat_redis_up (\d)$/m)?.[1];
    expect(await redisUp(a)).toBe("0");
    await a1.client.send({ action: "message", message: "during the outage", ref: "out" });
    const refused = await a1.client.action("error", (f) => f.ref === "out");
    expect(refused.code).toBe("unavailable");
    const local = await a2.client.action("message", (f) => f.message === "during the outage");
    expect(local).toMatchObject({ local: true, id: a1.id });
    expect(local.mid).toBeUndefined();
    await a2.client.send({ action: "pm", target: { id: a1.id }, message: "local pm still works" });
    await a1.client.action("pm", (f) => f.message === "local pm still works");

    await redis.restart();
    await expect.poll(() => ready(a), { timeout: 15_000 }).toBe(200);
    await expect.poll(() => ready(b), { timeout: 15_000 }).toBe(200);
    expect(await redisUp(a)).toBe("1");
    // The subscriptions came back with the connection: B hears A again.
    expect(await roomSubscribers("lobby")).toBe(2);
    const after = await say(a1, "after the outage");
    await b1.client.action("message", (f) => f.mid === after && f.message === "after the outage");
    // That Redis kept nothing: the room's mids start over, and members are told so before the first new one.
    const firstEpoch = b1.client.all("history").find((h) => h.room === "lobby")?.epoch;
    const reset = b1.client.frames.findIndex(
      (f) => f.action === "history" && f.room === "lobby" && f.epoch !== firstEpoch,
    );
    expect(b1.client.frames[reset]).toMatchObject({ room: "lobby", recovered: false, messages: [] });
    expect(after).toBe(1);
    expect(b1.client.frames.findIndex((f) => f.message === "after the outage")).toBeGreaterThan(reset);
    const back = await say(b1, "and back");
    await a1.client.action("message", (f) => f.mid === back);
    expect(b1.client.all("message").some((f) => f.message === "during the outage")).toBe(false);
    expect(a.output().match(/lost the connection to Redis/g)).toHaveLength(1);
    // Presence written again after the restart emptied Redis (each node rewrites its own once it is
    // back, in its own time): exactly the room's members, nobody stale.
    let asked = 0;
    const members = async () => {
      const ref = `who-${++asked}`;
      await b1.client.send({ action: "users", room: "outage", ref });
      const list = await b1.client.action("users", (f) => f.ref === ref);
      return (list.users as { id: string }[]).map((u) => u.id).sort();
    };
    await expect.poll(members, { timeout: 5000 }).toEqual([a1.id, a2.id, b1.id].sort());
  }, 60000);
});

describe("start-up against a bad Redis", () => {
  it("exits 1 with a clear line for a REDIS_URL that is not a Redis URL", async () => {
    const r = await runToExit({ REDIS_URL: "http://localhost:6379" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/REDIS_URL.*redis:\/\//);
  });

  it("exits 1 within the timeout when nothing listens", async () => {
    const r = await runToExit({
      REDIS_URL: `redis://127.0.0.1:${await allocatePort()}`,
      REDIS_CONNECT_TIMEOUT: "1500",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not reachable within 1500 ms/);
    expect(r.ms).toBeLessThan(8000);
  });

  it("exits 1 within the timeout when Redis accepts but never answers", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const r = await runToExit({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_TIMEOUT: "1500" });
    for (const s of sockets) s.destroy();
    silent.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not reachable within 1500 ms/);
    expect(r.ms).toBeLessThan(8000);
  });

  it("exits 1 and names the cause when the password is wrong", async () => {
    const locked = await startRedis(["--requirepass", "s3cret"]);
    try {
      const r = await runToExit({
        REDIS_URL: `redis://:wrong@127.0.0.1:${locked.port}`,
        REDIS_CONNECT_TIMEOUT: "1500",
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/WRONGPASS|invalid password/i);
      expect(r.stderr).not.toContain("wrong@");
      const ok = await startNode({ REDIS_URL: `redis://:s3cret@127.0.0.1:${locked.port}` });
      const u = await joinedUser(ok.url);
      await say(u, "with a password");
      u.client.close();
      await ok.stop();
    } finally {
      await locked.stop();
    }
  });
});
