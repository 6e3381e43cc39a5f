import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { WireKind } from "./generator/codec.js";
import { buildPeer } from "./peers/build.js";
import { type Proc, startNodeServer, startRedis } from "./procs.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface Target {
  readonly name: string;
  readonly wire: WireKind;
  /** Starts one server node against Redis; `nodeArgs` go to node itself (e.g. --cpu-prof). */
  startNode(redisUrl: string, nodeArgs: string[]): Promise<Proc>;
}

/** The node flags `npm start` runs our server with (package.json), so that the bench measures it as shipped. */
function shippedNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const start = scripts.start ?? "";
  return start.split(" ").filter((word) => word.startsWith("--"));
}

export function ours(serverEntry = path.join(root, "dist/server.js"), asShipped = true): Target {
  const flags = asShipped ? shippedNodeFlags() : [];
  return {
    name: "ours",
    wire: "sockjs",
    startNode: (redisUrl, nodeArgs) =>
      startNodeServer(
        [...flags, ...nodeArgs, serverEntry],
        {
          REDIS_URL: redisUrl,
          LOG_LEVEL: "warn",
          // Every client comes from 127.0.0.1 and the publishers send far above a person's rate:
          // the abuse limits would measure themselves, not the fan-out.
          RATE_LIMIT: "0",
          MAX_CONNECTIONS_PER_IP: "0",
        },
        "chat node",
      ),
  };
}

export async function socketIo(): Promise<Target> {
  const entry = await buildPeer("socketio-server");
  return {
    name: "socket.io",
    wire: "engineio",
    startNode: (redisUrl, nodeArgs) => startNodeServer([...nodeArgs, entry], { REDIS_URL: redisUrl }, "socket.io node"),
  };
}

/** The bare `ws` server every figure is also read against (bench/peers/ws-floor.ts). */
export async function floor(): Promise<Target> {
  const entry = await buildPeer("ws-floor");
  return {
    name: "ws floor",
    wire: "sockjs",
    startNode: (redisUrl, nodeArgs) => startNodeServer([...nodeArgs, entry], { REDIS_URL: redisUrl }, "ws floor node"),
  };
}

/** One Redis and N nodes of a target. */
export interface Stack {
  readonly redis: Proc;
  readonly nodes: Proc[];
  stop(): Promise<void>;
}

export async function startStack(target: Target, nodes: number, nodeArgs: string[] = []): Promise<Stack> {
  const redis = await startRedis();
  const started: Proc[] = [];
  try {
    for (let i = 0; i < nodes; i++) started.push(await target.startNode(`redis://127.0.0.1:${redis.port}`, nodeArgs));
  } catch (err) {
    await Promise.all(started.map((n) => n.stop()));
    await redis.stop();
    throw err;
  }
  return {
    redis,
    nodes: started,
    async stop() {
      await Promise.all(started.map((n) => n.stop()));
      await redis.stop();
    },
  };
}
