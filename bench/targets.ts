import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { WireKind } from "./generator/codec.js";
import { buildPeer } from "./peers/build.js";
import { freePort, type Proc, startNodeServer, startRedis } from "./procs.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface Target {
  readonly name: string;
  readonly wire: WireKind;
  /** Starts one server node against Redis, on `port` or a free one; `nodeArgs` go to node itself (e.g. --cpu-prof). */
  startNode(redisUrl: string, nodeArgs: string[], port?: number): Promise<Proc>;
}

/** The node flags `npm start` runs our server with (package.json), so that the bench measures it as shipped. */
export function shippedNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const start = scripts.start ?? "";
  return start.split(" ").filter((word) => word.startsWith("--"));
}

/**
 * Ours; with `databaseFor`, every node also carries into the PostgreSQL
 * database it names for that Redis (one per stack, so each run starts with an
 * empty archive, as it starts with an empty Redis).
 */
export function ours(
  serverEntry = path.join(root, "dist/server.js"),
  asShipped = true,
  databaseFor?: (redisUrl: string) => Promise<string>,
): Target {
  const flags = asShipped ? shippedNodeFlags() : [];
  return {
    name: databaseFor ? "ours+archive" : "ours",
    wire: "sockjs",
    startNode: async (redisUrl, nodeArgs, port) => {
      const metricsPort = await freePort();
      const node = await startNodeServer(
        [...flags, ...nodeArgs, serverEntry],
        {
          REDIS_URL: redisUrl,
          METRICS_PORT: String(metricsPort),
          ...(databaseFor ? { DATABASE_URL: await databaseFor(redisUrl) } : {}),
          LOG_LEVEL: "warn",
          // Every client comes from 127.0.0.1 and the publishers send far above a person's rate:
          // the abuse limits would measure themselves, not the fan-out.
          RATE_LIMIT: "0",
          MAX_CONNECTIONS_PER_IP: "0",
          WRITE_BYTES_PER_USER: "0",
          WRITE_BYTES_PER_IP: "0",
          NEW_ROOMS_PER_HOUR: "0",
          NEW_GUESTS_PER_IP: "0",
        },
        "chat node",
        port,
      );
      return { ...node, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
    },
  };
}

export async function socketIo(): Promise<Target> {
  const entry = await buildPeer("socketio-server");
  return {
    name: "socket.io",
    wire: "engineio",
    startNode: (redisUrl, nodeArgs, port) =>
      startNodeServer([...nodeArgs, entry], { REDIS_URL: redisUrl }, "socket.io node", port),
  };
}

/** The bare `ws` server every figure is also read against (bench/peers/ws-floor.ts). */
export async function floor(): Promise<Target> {
  const entry = await buildPeer("ws-floor");
  return {
    name: "ws floor",
    wire: "sockjs",
    startNode: async (redisUrl, nodeArgs, port) => {
      const node = await startNodeServer([...nodeArgs, entry], { REDIS_URL: redisUrl }, "ws floor node", port);
      return { ...node, metricsUrl: `http://127.0.0.1:${node.port}/metrics` };
    },
  };
}

/** One Redis and N nodes of a target. */
export interface Stack {
  readonly redis: Proc;
  readonly nodes: Proc[];
  /** Stops node `i` as an orchestrator would (SIGTERM), or as a crash does (SIGKILL); resolves once it has exited. */
  stopNode(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts node `i` again, on the port it had; resolves once it is ready. */
  startNode(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(target: Target, nodes: number, nodeArgs: string[] = []): Promise<Stack> {
  const redis = await startRedis();
  const redisUrl = `redis://127.0.0.1:${redis.port}`;
  const started: Proc[] = [];
  try {
    for (let i = 0; i < nodes; i++) started.push(await target.startNode(redisUrl, nodeArgs));
  } catch (err) {
    await Promise.all(started.map((n) => n.stop()));
    await redis.stop();
    throw err;
  }
  const nodeAt = (i: number): Proc => {
    const node = started[i];
    if (!node) throw new Error(`there is no node ${i}`);
    return node;
  };
  return {
    redis,
    nodes: started,
    stopNode: (i, signal) => nodeAt(i).stop(signal),
    async startNode(i) {
      started[i] = await target.startNode(redisUrl, nodeArgs, nodeAt(i).port);
    },
    async stop() {
      await Promise.all(started.map((n) => n.stop()));
      await redis.stop();
    },
  };
}
