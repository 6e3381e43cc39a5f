import { describe, expect, it } from "vitest";
import { startNode } from "./support/processes.js";
import { type RedisProcess, startRedis } from "./support/redis-servers.js";
import { perFile } from "./support/scope.js";
import { cutRandomly, type Nodes, sequenceSurvives } from "./support/sequence.js";

const scope = perFile();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nodeEnv = (redis: RedisProcess) => ({
  REDIS_URL: redis.url,
  PRESENCE_TTL: "3",
  HISTORY_SIZE: "1000",
  // The publisher sends 50 a second, over the default per-connection limit.
  RATE_LIMIT: "0",
});

async function twoNodes(redis: RedisProcess): Promise<Nodes> {
  const env = nodeEnv(redis);
  // Node A is killed and restarted on the port its clients know: one no other test can have meanwhile.
  const procs = await Promise.all([startNode(env, "reserved"), startNode(env)]);
  const nodes = procs.map((proc) => ({ proc, alive: true }));
  scope.defer(() => Promise.all(nodes.map((n) => n.proc.stop())).then(() => undefined));
  return {
    nodes,
    pick: () => {
      const alive = nodes.filter((n) => n.alive);
      return alive[Math.floor(Math.random() * alive.length)]!.proc.url;
    },
  };
}

describe("sustained traffic under faults", () => {
  it("delivers every number, in a room and by direct message, stored and delivered exactly once, in order, through cuts and node kills that move the publishers", async () => {
    const redis = await startRedis();
    scope.defer(() => redis.stop());
    const cluster = await twoNodes(redis);
    const seen = await sequenceSurvives("cuts and node kills", cluster, 20000, scope, async (subscribers, until) => {
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
    // Both publishers were on node A when it was killed, and went on from the other node.
    expect(seen.moves).toBeGreaterThanOrEqual(2);
  }, 90000);

  it("delivers every number, in a room and by direct message, exactly once, in order, through a Redis restart (AOF on)", async () => {
    const redis = await startRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    scope.defer(() => redis.stop());
    const cluster = await twoNodes(redis);
    const seen = await sequenceSurvives("Redis restart", cluster, 12000, scope, async (subscribers, until) => {
      const restart = (async () => {
        await sleep(4000);
        await redis.stop();
        await sleep(1500);
        await redis.restart();
      })();
      await Promise.all([cutRandomly(subscribers, until), restart]);
    });
    // The outage fell in the traffic: both publishers were refused while Redis was away.
    expect(seen.refusals).toBeGreaterThan(0);
    expect(seen.dms.refusals).toBeGreaterThan(0);
  }, 90000);
});
