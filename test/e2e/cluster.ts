import type { Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { type RedisProcess, startRedis } from "../support/redis-servers.js";

/** The smallest scaled-out deployment: one redis-server and two chat nodes sharing it. */
export interface Cluster {
  readonly redis: RedisProcess;
  /** What every node is started with; a restarted node needs the same. */
  readonly env: Record<string, string>;
  /** A test that restarts a node puts the new process here, so `stop` still reaches it. */
  readonly nodes: [NodeProcess, NodeProcess];
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const redis = await startRedis();
  // A closed page's user is announced as gone after three seconds, not the default five: the
  // tests wait for leaves; a reload on a busy machine still fits in the three.
  const env = { REDIS_URL: redis.url, PRESENCE_GRACE: "3" };
  // On ports no other test can take: a test may restart a node where its clients look for it.
  const started = await Promise.allSettled([startNode(env, "reserved"), startNode(env, "reserved")]);
  const nodes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { redis, env, nodes: nodes as [NodeProcess, NodeProcess], stop };
}

/** Starts a cluster and Chromium before a file's tests and stops both after them; read them inside the tests. */
export function clusterAndBrowser(): { readonly cluster: Cluster; readonly browser: Browser } {
  const env = {} as { cluster: Cluster; browser: Browser };
  beforeAll(async () => {
    // Each is kept as soon as it is up, so afterAll stops it even if the other failed to start.
    await Promise.all([
      startCluster().then((c) => {
        env.cluster = c;
      }),
      launchBrowser().then((b) => {
        env.browser = b;
      }),
    ]);
  });
  afterAll(async () => {
    try {
      await env.browser?.close();
    } finally {
      await env.cluster?.stop();
    }
  });
  return env;
}
