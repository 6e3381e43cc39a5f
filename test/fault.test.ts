import { afterAll, describe, expect, it } from "vitest";
import { type NodeProcess, type RedisProcess, startNode, startRedis } from "./support/processes.js";
import { ResumingSubscriber, SequencePublisher } from "./support/sequence.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

interface Cluster {
  nodes: { proc: NodeProcess; alive: boolean }[];
  pick(): string;
}

const nodeEnv = (redis: RedisProcess) => ({
  REDIS_URL: redis.url,
  PRESENCE_TTL: "3",
  HISTORY_SIZE: "1000",
  // The publisher sends 50 a second, over the default per-connection limit.
  RATE_LIMIT: "0",
});

async function twoNodes(redis: RedisProcess): Promise<Cluster> {
  const env = nodeEnv(redis);
  const procs = await Promise.all([startNode(env), startNode(env)]);
  const nodes = procs.map((proc) => ({ proc, alive: true }));
  cleanups.push(() => Promise.all(nodes.map((n) => n.proc.stop())).then(() => undefined));
  return {
    nodes,
    pick: () => {
      const alive = nodes.filter((n) => n.alive);
      return alive[Math.floor(Math.random() * alive.length)]!.proc.url;
    },
  };
}

/** Runs the publisher while `chaos` does its worst, then checks every subscriber got 1..N once, in order. */
async function sequenceSurvives(
  label: string,
  cluster: Cluster,
  durationMs: number,
  chaos: (subscribers: ResumingSubscriber[], until: number) => Promise<void>,
) {
  const room = `fault-${label.replace(/\W/g, "").toLowerCase()}`;
  const subscribers = Array.from({ length: 5 }, (_, i) => new ResumingSubscriber(`sub${i}`, room, cluster.pick));
  cleanups.push(() => {
    for (const s of subscribers) s.stop();
  });
  await Promise.all(subscribers.map((s) => s.connect()));
  // The publisher stays on node B, which is never killed: it must not lose its own unacknowledged sends.
  const publisher = new SequencePublisher(room, () => cluster.nodes[1]!.proc.url);
  cleanups.push(() => publisher.close());
  await publisher.start();

  const until = Date.now() + durationMs;
  const watchdog = setInterval(() => {
    for (const s of subscribers) void s.ensureConnected();
  }, 100);
  const [sent] = await Promise.all([publisher.run(durationMs, 50), chaos(subscribers, until)]);
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && subscribers.some((s) => s.numbers.length < sent)) await sleep(100);
  clearInterval(watchdog);

  const expected = Array.from({ length: sent }, (_, i) => i + 1);
  console.log(`${label}: published ${sent} (refused and resent: ${publisher.refusals})`);
  for (const s of subscribers) {
    const unique = new Set(s.numbers).size;
    console.log(
      `  ${s.name}: received ${s.numbers.length}, distinct ${unique}, lost ${sent - unique}, ` +
        `duplicated ${s.numbers.length - unique}, reconnects ${s.reconnects}`,
    );
  }
  for (const s of subscribers) {
    expect(s.problems, s.name).toEqual([]);
    expect(s.numbers, s.name).toEqual(expected);
  }
  expect(sent).toBeGreaterThan(durationMs / 50);
}

/** Cuts random subscribers' connections at random moments until `until`. */
async function cutRandomly(subscribers: ResumingSubscriber[], until: number): Promise<void> {
  const cuts: Promise<void>[] = [];
  while (Date.now() < until - 1500) {
    await sleep(between(200, 900));
    const s = subscribers[Math.floor(Math.random() * subscribers.length)]!;
    if (s.connected) cuts.push(s.cut(between(0, 1500)));
  }
  await Promise.all(cuts);
}

describe("sustained traffic under faults", () => {
  it("delivers every number exactly once, in order, through cuts and node kills", async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const cluster = await twoNodes(redis);
    await sequenceSurvives("cuts and node kills", cluster, 20000, async (subscribers, until) => {
      const killer = (async () => {
        const a = cluster.nodes[0]!;
        for (const at of [5000, 12000]) {
          await sleep(at - (20000 - (until - Date.now())));
          a.alive = false;
          await a.proc.kill();
          await sleep(800);
          a.proc = await startNode(nodeEnv(redis), a.proc.port);
          a.alive = true;
        }
      })();
      await Promise.all([cutRandomly(subscribers, until), killer]);
    });
  }, 90000);

  it("delivers every number exactly once, in order, through a Redis restart (AOF on)", async () => {
    const redis = await startRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    cleanups.push(() => redis.stop());
    const cluster = await twoNodes(redis);
    await sequenceSurvives("Redis restart", cluster, 12000, async (subscribers, until) => {
      const restart = (async () => {
        await sleep(4000);
        await redis.stop();
        await sleep(1500);
        await redis.restart();
      })();
      await Promise.all([cutRandomly(subscribers, until), restart]);
    });
  }, 90000);
});
