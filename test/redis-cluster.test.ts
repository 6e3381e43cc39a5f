import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUser, joinedUser, joinRoom, say, type User } from "./support/chat.js";
import { type NodeProcess, startNode } from "./support/processes.js";
import { type RedisCluster, startCluster } from "./support/redis-servers.js";
import { Scope } from "./support/scope.js";
import { cutRandomly, type Nodes, sequenceSurvives } from "./support/sequence.js";

let cluster: RedisCluster;
let chat: Nodes;
// Closed in afterAll, before the nodes and the cluster it depends on stop.
const scope = new Scope();

const env = () => ({ REDIS_CLUSTER_NODES: `redis-cluster://${cluster.seeds}`, RATE_LIMIT: "0", HISTORY_SIZE: "1000" });

beforeAll(async () => {
  cluster = await startCluster(3);
  // Node A is killed and restarted on its port: one no other test can have meanwhile.
  const procs = await Promise.all([startNode(env(), "reserved"), startNode(env())]);
  const nodes = procs.map((proc) => ({ proc, alive: true }));
  chat = {
    nodes,
    pick: () => {
      const alive = nodes.filter((n) => n.alive);
      return alive[Math.floor(Math.random() * alive.length)]!.proc.url;
    },
  };
}, 60000);
afterAll(async () => {
  await scope.close();
  await Promise.all(chat?.nodes.map((n) => n.proc.stop()) ?? []);
  await cluster?.stop();
});

const channelOf = (room: string) => `chat:{chat:${room}}:msg`;

/** Which primary owns a channel's slot. */
async function ownerOf(channel: string): Promise<number> {
  const probe = cluster.client(cluster.primaries[0]!.port);
  const slot = Number(await probe.cluster("KEYSLOT", channel));
  const ranges = (await probe.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
  const range = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)!;
  return range[2][1];
}

async function user(node: NodeProcess): Promise<User> {
  const u = await joinedUser(node.url);
  scope.defer(() => u.client.close());
  return u;
}

describe("Redis Cluster with sharded Pub/Sub", () => {
  it("serves rooms on every shard across nodes, each room's channel only on the shard that owns it", async () => {
    // One room per shard.
    const byOwner = new Map<number, string>();
    for (let i = 0; byOwner.size < cluster.primaries.length && i < 1000; i++) {
      const owner = await ownerOf(channelOf(`shard-${i}`));
      if (!byOwner.has(owner)) byOwner.set(owner, `shard-${i}`);
    }
    expect(byOwner.size).toBe(3);
    const [a, b] = chat.nodes.map((n) => n.proc) as [NodeProcess, NodeProcess];
    for (const room of byOwner.values()) {
      const onA = await user(a);
      const onB = await user(b);
      await joinRoom(onA, room);
      await joinRoom(onB, room);
      const mid = await say(onA, `hello ${room}`, room);
      const got = await onB.client.action("message", (f) => f.mid === mid && f.room === room);
      expect(got.message).toBe(`hello ${room}`);
      const back = await say(onB, `back ${room}`, room);
      await onA.client.action("message", (f) => f.mid === back && f.room === room);
    }
    for (const primary of cluster.primaries) {
      const c = cluster.client(primary.port);
      const owned = (await c.call("PUBSUB", "SHARDCHANNELS")) as string[];
      for (const channel of owned) expect(await ownerOf(channel), channel).toBe(primary.port);
      for (const [owner, room] of byOwner) {
        const [, count] = (await c.call("PUBSUB", "SHARDNUMSUB", channelOf(room))) as [string, number];
        expect(Number(count), `${room} on ${primary.port}`).toBe(owner === primary.port ? 2 : 0);
      }
      console.log(`shard ${primary.port}: ${owned.length} sharded channels`);
    }
  });

  it("keeps members hearing a room whose slot moves to another shard and back between two of ioredis's slot refreshes", async () => {
    const room = "slot-there-and-back";
    const from = await ownerOf(channelOf(room));
    const to = cluster.primaries.find((p) => p.port !== from)!;
    const slot = Number(await cluster.client(from).cluster("KEYSLOT", channelOf(room)));
    const [a, b] = chat.nodes.map((n) => n.proc) as [NodeProcess, NodeProcess];
    const onA = await user(a);
    const onB = await user(b);
    await joinRoom(onA, room);
    await joinRoom(onB, room);
    const before = await say(onA, "before the move", room);
    await onB.client.action("message", (f) => f.mid === before && f.room === room);
    // Each move ends the channel's subscriptions on the shard that gives the slot up; the slot map ioredis
    // reads afterwards is the one it had, so it sees nothing to follow.
    await cluster.migrateSlot(slot, from, to.port);
    await cluster.migrateSlot(slot, to.port, from);
    expect(await ownerOf(channelOf(room))).toBe(from);
    const after = await say(onA, "after the move and back", room);
    for (const member of [onA, onB]) {
      const got = await member.client.action("message", (f) => f.mid === after && f.room === room, 15000);
      expect(got.message).toBe("after the move and back");
    }
    // Members keep hearing live messages, not only what a check read from history.
    const next = await say(onB, "and after that", room);
    await onA.client.action("message", (f) => f.mid === next && f.room === room, 15000);
    const [, count] = (await cluster.client(from).call("PUBSUB", "SHARDNUMSUB", channelOf(room))) as [string, number];
    expect(Number(count)).toBe(2);
  });

  it("keeps the guarantee while a room's slot moves to another shard and that shard restarts", async () => {
    const room = "fault-clustermigrationandrestart";
    const probe = cluster.client(cluster.primaries[0]!.port);
    const slot = Number(await probe.cluster("KEYSLOT", channelOf(room)));
    const from = await ownerOf(channelOf(room));
    const to = cluster.primaries.find((p) => p.port !== from)!;
    await sequenceSurvives("cluster migration and restart", chat, 14000, scope, async (subscribers, until) => {
      const chaos = (async () => {
        await new Promise((r) => setTimeout(r, 3000));
        await cluster.migrateSlot(slot, from, to.port);
        expect(await ownerOf(channelOf(room))).toBe(to.port);
        await new Promise((r) => setTimeout(r, 3000));
        await to.stop();
        await new Promise((r) => setTimeout(r, 1000));
        await to.restart();
        await cluster.healthy();
      })();
      await Promise.all([cutRandomly(subscribers, until), chaos]);
    });
    const [, count] = (await cluster.client(to.port).call("PUBSUB", "SHARDNUMSUB", channelOf(room))) as [
      string,
      number,
    ];
    expect(Number(count)).toBeGreaterThan(0);
  }, 120000);

  it("passes the history/recovery fault test on the cluster", async () => {
    // Whatever the previous test left, this one starts from a healthy cluster and two serving nodes.
    await cluster.healthy();
    for (const n of chat.nodes) {
      if (!n.alive) {
        n.proc = await startNode(env(), n.proc.port);
        n.alive = true;
      }
    }
    await sequenceSurvives("cluster cuts and a node kill", chat, 12000, scope, async (subscribers, until) => {
      const killer = (async () => {
        await new Promise((r) => setTimeout(r, 4000));
        const a = chat.nodes[0]!;
        a.alive = false;
        await a.proc.kill();
        await new Promise((r) => setTimeout(r, 800));
        a.proc = await startNode(env(), a.proc.port);
        a.alive = true;
      })();
      await Promise.all([cutRandomly(subscribers, until), killer]);
    });
  }, 90000);
});

describe("Redis Cluster with replicas", () => {
  it("keeps the guarantee when the primary of a room's shard dies during traffic and its replica takes over", async () => {
    const replicated = await startCluster(3, { replicas: 1 });
    const started: NodeProcess[] = [];
    try {
      const replicatedEnv = { REDIS_CLUSTER_NODES: replicated.seeds, RATE_LIMIT: "0", HISTORY_SIZE: "1000" };
      started.push(await startNode(replicatedEnv), await startNode(replicatedEnv));
      const nodes: Nodes = {
        nodes: started.map((proc) => ({ proc, alive: true })),
        pick: () => started[Math.floor(Math.random() * started.length)]!.url,
      };
      const label = "cluster primary failover";
      const channel = channelOf(`fault-${label.replace(/\W/g, "").toLowerCase()}`);
      const probe = replicated.client(replicated.primaries[0]!.port);
      const slot = Number(await probe.cluster("KEYSLOT", channel));
      const owner = async () => {
        const ranges = (await probe.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
        return ranges.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2][1];
      };
      const primaryPort = await owner();
      const primary = replicated.servers.find((s) => s.port === primaryPort)!;
      let promotedMs = 0;
      await sequenceSurvives(label, nodes, 14000, scope, async (subscribers, until) => {
        const failover = (async () => {
          await new Promise((r) => setTimeout(r, 3000));
          const killed = Date.now();
          await primary.kill();
          // The replica is elected once the others have missed the primary for the node timeout (2 s).
          await expect.poll(owner, { timeout: 20_000, interval: 200 }).not.toBe(primaryPort);
          promotedMs = Date.now() - killed;
        })();
        await Promise.all([cutRandomly(subscribers, until), failover]);
      });
      console.log(`the cluster promoted the replica of port ${primaryPort} ${promotedMs} ms after it was killed`);
      expect(promotedMs).toBeGreaterThan(0);
    } finally {
      await Promise.all(started.map((n) => n.stop()));
      await replicated.stop();
    }
  }, 120000);
});

describe("Redis Cluster with a shard down", () => {
  it("answers a join to a room on the dead shard with 'unavailable', and serves it again once the shard is back", async () => {
    const lone = await startCluster(3);
    const started: NodeProcess[] = [];
    try {
      started.push(await startNode({ REDIS_CLUSTER_NODES: lone.seeds, RATE_LIMIT: "0" }));
      const node = started[0] as NodeProcess;
      const room = "downshard";
      const probe = lone.client(lone.primaries[0]!.port);
      const slot = Number(await probe.cluster("KEYSLOT", channelOf(room)));
      const ranges = (await probe.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
      const port = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1];
      const shard = lone.servers.find((s) => s.port === port)!;
      const u = await connectUser(node.url, { query: "lobby=0" });
      scope.defer(() => u.client.close());
      await shard.kill();
      // Each try is refused as a passing outage, never as a fault of the server's, until the shard is back.
      for (let i = 0; i < 5; i++) {
        const ref = `down-${i}`;
        await u.client.send({ action: "join", room, ref });
        const reply = await u.client.next((f) => f.ref === ref && ["users", "error"].includes(f.action), 15_000);
        expect(reply).toMatchObject({ action: "error", code: "unavailable" });
      }
      await shard.restart();
      await expect
        .poll(
          async () => {
            const ref = `up-${Math.random()}`;
            await u.client.send({ action: "join", room, ref });
            return (await u.client.next((f) => f.ref === ref && ["users", "error"].includes(f.action), 15_000)).action;
          },
          { timeout: 30_000, interval: 500 },
        )
        .toBe("users");
      // Followed for real: what is said there comes back live, through the shard.
      const mid = await say(u, "the shard is back", room);
      await u.client.action("message", (f) => f.mid === mid && f.room === room);
    } finally {
      await Promise.all(started.map((n) => n.stop()));
      await lone.stop();
    }
  }, 120_000);
});
