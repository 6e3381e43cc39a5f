import { Redis } from "ioredis";
import { expect, it, onTestFailed } from "vitest";
import { joinRoom } from "./support/chat.js";
import { type SentinelSetup, startSentinels } from "./support/redis-servers.js";
import { perFile } from "./support/scope.js";
import { cutRandomly, type Nodes, sequenceSurvives } from "./support/sequence.js";

const scope = perFile();

/** A fresh Sentinel setup, and the nodes' environment for it with `extra`. */
async function sentinels(
  extra: Record<string, string>,
): Promise<{ setup: SentinelSetup; env: Record<string, string> }> {
  const setup = await startSentinels();
  scope.defer(() => setup.stop());
  const env = { REDIS_SENTINELS: setup.addresses, REDIS_SENTINEL_NAME: setup.name, RATE_LIMIT: "0", ...extra };
  return { setup, env };
}

it("keeps the chat and its delivery guarantee through a Sentinel failover", async () => {
  const { setup, env } = await sentinels({ HISTORY_SIZE: "1000" });
  const procs = await Promise.all([scope.node(env), scope.node(env)]);
  // A failover that goes wrong shows in the nodes' own words: how their link to Redis went and came back.
  onTestFailed(() => {
    for (const p of procs) {
      const lines = p.output().split("\n");
      console.log(
        `node ${p.nodeId}:\n${lines
          .filter((l) => /"level":[456]0|subscribed/.test(l))
          .slice(-30)
          .join("\n")}`,
      );
    }
  });
  const nodes: Nodes = {
    nodes: procs.map((proc) => ({ proc, alive: true })),
    pick: () => procs[Math.floor(Math.random() * procs.length)]!.url,
  };
  expect(await setup.currentPrimaryPort()).toBe(setup.primary.port);

  let failoverMs = 0;
  await sequenceSurvives("Sentinel failover", nodes, 16000, scope, async (subscribers, until) => {
    const failover = (async () => {
      await new Promise((r) => setTimeout(r, 3000));
      const killed = Date.now();
      await setup.primary.kill();
      await expect.poll(() => setup.currentPrimaryPort(), { timeout: 30_000, interval: 100 }).toBe(setup.replica.port);
      failoverMs = Date.now() - killed;
    })();
    await Promise.all([cutRandomly(subscribers, until), failover]);
  });
  console.log(`the sentinels promoted the replica ${failoverMs} ms after the primary was killed`);
  expect(await setup.currentPrimaryPort()).toBe(setup.replica.port);
}, 120000);

it("keeps heartbeats and history reads going while a replica lags, and each message waits for it once", async () => {
  const { setup, env } = await sentinels({ PRESENCE_TTL: "2" });
  const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
  const sender = await scope.user(a);
  const reader = await scope.user(a);
  const watcher = await scope.user(b);
  for (const u of [sender, reader, watcher]) await joinRoom(u, "busy");
  const primary = new Redis({ host: "127.0.0.1", port: setup.primary.port, maxRetriesPerRequest: 1 });
  scope.defer(() => primary.disconnect());

  // The replica stops reading: each WAIT now runs out its full second, and the primary still counts it.
  setup.replica.child.kill("SIGSTOP");
  scope.defer(() => setup.replica.child.kill("SIGCONT"));
  const count = 8;
  for (let i = 1; i <= count; i++) await sender.client.send({ action: "message", room: "busy", message: `slow ${i}` });
  // All of them stored: on one shared connection their WAITs would now be queued ahead of everything else.
  await expect.poll(() => primary.xlen("chat:{chat:busy}:log"), { timeout: 5000, interval: 20 }).toBe(count);

  const ref = "calm-join";
  await reader.client.send({ action: "join", room: "calm", ref });
  await reader.client.action("users", (f) => f.ref === ref);
  const last = await watcher.client.action("message", (f) => f.message === `slow ${count}`, 15_000);
  const firstSlow = reader.client.frames.findIndex((f) => f.action === "message" && f.message === "slow 1");
  const joined = reader.client.frames.findIndex((f) => f.ref === ref);
  // The history read went ahead of the first publication that waited for the replica.
  expect(firstSlow === -1 || joined < firstSlow).toBe(true);
  // Node A kept beating throughout: node B never took its users for gone.
  const until = watcher.client.frames.indexOf(last);
  const departures = watcher.client.frames.slice(0, until).filter((f) => f.action === "user_left");
  expect(departures).toEqual([]);
  expect(watcher.client.all("message").filter((f) => String(f.message).startsWith("slow "))).toHaveLength(count);
}, 120000);
