/**
 * The carry into PostgreSQL on a Redis Cluster: each room's carry stream and
 * lease live in the room's hash slot, the rooms to carry are noted in sets
 * spread over the shards, and every room, whichever shard owns it, reaches
 * the database.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { joinedUser, joinRoom, say } from "./support/chat.js";
import { type PostgresProcess, startPostgres } from "./support/postgres.js";
import { type RedisCluster, startCluster } from "./support/redis-servers.js";
import { perTest } from "./support/scope.js";

const scope = perTest();
let cluster: RedisCluster;
let postgres: PostgresProcess;

beforeAll(async () => {
  [cluster, postgres] = await Promise.all([startCluster(3), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await postgres?.remove();
});

it("carries rooms of every shard into the database, each acknowledged message once, in mid order", async () => {
  const env = {
    REDIS_CLUSTER_NODES: `redis-cluster://${cluster.seeds}`,
    DATABASE_URL: await postgres.createDatabase("cluster"),
    RATE_LIMIT: "0",
  };
  const [a, b] = await Promise.all([scope.node(env), scope.node(env)]);
  const ada = await joinedUser(a.url);
  const bob = await joinedUser(b.url);
  scope.defer(() => ada.client.close());
  scope.defer(() => bob.client.close());

  // Enough rooms that every shard owns some (16384 slots, three primaries).
  const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`);
  const probe = cluster.client(cluster.primaries[0]?.port as number);
  const ranges = (await probe.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
  const owners = new Set<number>();
  for (const room of rooms) {
    const slot = Number(await probe.cluster("KEYSLOT", `chat:{chat:${room}}:carry`));
    owners.add(ranges.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2][1] as number);
  }
  expect(owners.size).toBe(3);
  const acked = new Map<string, number[]>();
  for (const room of rooms) {
    await joinRoom(ada, room);
    await joinRoom(bob, room);
    const mids: number[] = [];
    for (let i = 0; i < 10; i++) mids.push(await say(i % 2 ? ada : bob, `${room} ${i}`, room));
    acked.set(room, mids);
  }

  const db = await postgres.client("cluster");
  scope.defer(() => db.end());
  const archived = async () => {
    const rows = await db.query("SELECT place, mid FROM messages ORDER BY place, mid");
    const out = new Map<string, number[]>();
    for (const r of rows.rows) out.set(r.place, [...(out.get(r.place) ?? []), Number(r.mid)]);
    return out;
  };
  await expect.poll(archived, { timeout: 5000, interval: 100 }).toEqual(acked);
  // What was carried leaves nothing behind in Redis: no stream, no room to look at.
  await expect
    .poll(
      async () => {
        let left = 0;
        for (const p of cluster.primaries) left += (await cluster.client(p.port).keys("chat:*carry*")).length;
        return left;
      },
      { timeout: 5000, interval: 100 },
    )
    .toBe(0);
});
