import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { vi } from "vitest";
import { stopChild, waitForLine } from "./child-process.js";
import { allocatePort } from "./ports.js";

const run = promisify(execFile);

export interface ServerProcess {
  readonly port: number;
  readonly dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/** One redis-server (or sentinel) on a port of its own, in a directory of its own; a Cluster node's bus port too. */
async function serverProcess(
  args: (port: number, dir: string) => string[],
  ready: RegExp,
  clusterBus = false,
): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchServer(args, ready, await allocatePort(clusterBus));
    } catch (err) {
      // A port this run handed out can still be taken before the server binds it, by a process of another run.
      if (attempt >= 3 || !String(err).includes("Address already in use")) throw err;
    }
  }
}

async function launchServer(
  args: (port: number, dir: string) => string[],
  ready: RegExp,
  port: number,
): Promise<ServerProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-redis-"));
  const launch = async () => {
    const child = spawn("redis-server", args(port, dir), { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    await waitForLine(child, ready, 15000, `redis-server on ${port}`);
    return child;
  };
  const proc: ServerProcess = {
    port,
    dir,
    child: await launch(),
    stop: () => stopChild(proc.child, "SIGTERM"),
    kill: () => stopChild(proc.child, "SIGKILL"),
    restart: async () => {
      proc.child = await launch();
    },
  };
  return proc;
}

export interface RedisProcess extends ServerProcess {
  readonly url: string;
}

/**
 * A real redis-server on a port of its own, in a fresh directory, without
 * persistence unless `extra` (config flags) asks for it. The one way the
 * tests start Redis: Cluster and Sentinel setups are made of these too.
 */
export async function startRedis(extra: string[] = []): Promise<RedisProcess> {
  const server = await serverProcess(
    (port, dir) => [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      ...extra,
    ],
    /Ready to accept connections/,
  );
  return Object.assign(server, { url: `redis://127.0.0.1:${server.port}` });
}

/** A loopback redis-server with AOF on, so a restart keeps what it had; with a password, replicas use it too. */
function persistentServer(port: number, dir: string, password?: string): string[] {
  const auth = password ? ["--requirepass", password, "--masterauth", password] : [];
  return ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", ...auth];
}

export interface TopologyOptions {
  /** Every server requires it (requirepass), replicas and sentinels included. */
  password?: string;
}

/** Waits for `check` to hold, asking every 200 ms. */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await check().catch(() => false))) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    },
    { timeout: timeoutMs, interval: 200 },
  );
}

export interface RedisCluster {
  /** The servers that were primaries when the cluster was made. */
  readonly primaries: ServerProcess[];
  /** Every server, replicas included. */
  readonly servers: ServerProcess[];
  /** For REDIS_CLUSTER_NODES. */
  readonly seeds: string;
  /** A client to the primary on `port`, for inspection. */
  client(port: number): Redis;
  /** Moves one hash slot, keys and all, from one primary to another, as `redis-cli --cluster reshard` does. */
  migrateSlot(slot: number, fromPort: number, toPort: number): Promise<void>;
  /** Resolves once every primary reports the cluster healthy. */
  healthy(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Primaries with --cluster-enabled, joined by `redis-cli --cluster create`,
 * each with `replicas` replicas that take over when it fails.
 */
export async function startCluster(
  primaries = 3,
  options: TopologyOptions & { replicas?: number } = {},
): Promise<RedisCluster> {
  const replicas = options.replicas ?? 0;
  const servers = await Promise.all(
    Array.from({ length: primaries * (1 + replicas) }, () =>
      serverProcess(
        (port, dir) => [
          ...persistentServer(port, dir, options.password),
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          "2000",
        ],
        /Ready to accept connections/,
        true,
      ),
    ),
  );
  const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
  const auth = options.password ? ["-a", options.password, "--no-auth-warning"] : [];
  await run("redis-cli", [
    ...auth,
    "--cluster",
    "create",
    ...addresses,
    "--cluster-replicas",
    String(replicas),
    "--cluster-yes",
  ]);
  const clients: Redis[] = [];
  const client = (port: number) => {
    const c = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, password: options.password });
    // Tests restart shards on purpose; a refused reconnect is expected then.
    c.on("error", () => undefined);
    clients.push(c);
    return c;
  };
  const healthy = async () => {
    for (const s of servers) {
      const c = client(s.port);
      await until(async () => String(await c.cluster("INFO")).includes("cluster_state:ok"), 20000, "cluster state ok");
    }
  };
  await healthy();
  const migrateSlot = async (slot: number, fromPort: number, toPort: number) => {
    const from = client(fromPort);
    const to = client(toPort);
    const fromId = String(await from.cluster("MYID"));
    const toId = String(await to.cluster("MYID"));
    await to.cluster("SETSLOT", slot, "IMPORTING", fromId);
    await from.cluster("SETSLOT", slot, "MIGRATING", toId);
    for (;;) {
      const keys = (await from.cluster("GETKEYSINSLOT", slot, 100)) as string[];
      if (keys.length === 0) break;
      await from.migrate("127.0.0.1", toPort, "", 0, 5000, "KEYS", ...keys);
    }
    for (const s of servers) await client(s.port).cluster("SETSLOT", slot, "NODE", toId);
  };
  if (replicas > 0) {
    // Replicas are usable once the cluster lists them under their primary's slots and they have synced.
    const probe = client(servers[0]!.port);
    await until(
      async () => {
        const ranges = (await probe.cluster("SLOTS")) as unknown as unknown[][];
        return ranges.length === primaries && ranges.every((range) => range.length === 3 + replicas);
      },
      20000,
      "every shard has its replicas",
    );
    for (const server of servers) {
      await until(
        async () => {
          const info = await client(server.port).info("replication");
          return info.includes("role:master") || info.includes("master_link_status:up");
        },
        20000,
        `replica on ${server.port} in sync`,
      );
    }
  }
  const isPrimary = await Promise.all(
    servers.map(async (server) => (await client(server.port).info("replication")).includes("role:master")),
  );
  return {
    primaries: servers.filter((_, i) => isPrimary[i]),
    servers,
    seeds: addresses.join(","),
    client,
    migrateSlot,
    healthy,
    stop: async () => {
      for (const c of clients) c.disconnect();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

export interface SentinelSetup {
  primary: ServerProcess;
  replica: ServerProcess;
  sentinels: ServerProcess[];
  /** For REDIS_SENTINELS. */
  readonly addresses: string;
  readonly name: string;
  /** The port of whichever server the sentinels call primary now. */
  currentPrimaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/** A primary, one replica and three sentinels on loopback, failing over after 1 s of silence. */
export async function startSentinels(options: TopologyOptions = {}): Promise<SentinelSetup> {
  const name = "chatmaster";
  const { password } = options;
  const primary = await serverProcess(
    (port, dir) => persistentServer(port, dir, password),
    /Ready to accept connections/,
  );
  const replica = await serverProcess(
    (port, dir) => [...persistentServer(port, dir, password), "--replicaof", "127.0.0.1", String(primary.port)],
    /MASTER <-> REPLICA sync: Finished with success/,
  );
  const sentinels = await Promise.all(
    [0, 1, 2].map(() =>
      serverProcess((port, dir) => {
        const conf = path.join(dir, "sentinel.conf");
        writeFileSync(
          conf,
          [
            `port ${port}`,
            "bind 127.0.0.1",
            `dir ${dir}`,
            `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
            `sentinel down-after-milliseconds ${name} 1000`,
            `sentinel failover-timeout ${name} 5000`,
            `sentinel parallel-syncs ${name} 1`,
            ...(password ? [`sentinel auth-pass ${name} ${password}`] : []),
            "",
          ].join("\n"),
        );
        return [conf, "--sentinel"];
      }, /Sentinel ID is|monitor master/),
    ),
  );
  const ask = new Redis({ host: "127.0.0.1", port: sentinels[0]!.port, maxRetriesPerRequest: 1 });
  const currentPrimaryPort = async () => {
    const [, port] = (await ask.call("SENTINEL", "get-master-addr-by-name", name)) as [string, string];
    return Number(port);
  };
  // Every sentinel must know the replica before a failover can pick it.
  await until(
    async () => {
      const replicas = (await ask.call("SENTINEL", "replicas", name)) as unknown[];
      return replicas.length === 1;
    },
    20000,
    "sentinels see the replica",
  );
  return {
    primary,
    replica,
    sentinels,
    addresses: sentinels.map((s) => `127.0.0.1:${s.port}`).join(","),
    name,
    currentPrimaryPort,
    stop: async () => {
      ask.disconnect();
      await Promise.all([...sentinels, replica, primary].map((s) => s.stop()));
    },
  };
}
