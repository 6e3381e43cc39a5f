import { expect, it, onTestFailed } from "vitest";
import { type SentinelSetup, startSentinels } from "./support/redis-servers.js";
import { perFile } from "./support/scope.js";
import { cutRandomly, type Nodes, sequenceSurvives } from "./support/sequence.js";

const scope = perFile();

it("keeps the chat and its delivery guarantee through a Sentinel failover", async () => {
  const setup: SentinelSetup = await startSentinels();
  scope.defer(() => setup.stop());
  const env = {
    REDIS_SENTINELS: setup.addresses,
    REDIS_SENTINEL_NAME: setup.name,
    RATE_LIMIT: "0",
    HISTORY_SIZE: "1000",
  };
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
