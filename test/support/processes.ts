import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { allocatePort } from "./ports.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SERVER_ENTRY = path.join(root, "dist/server.js");

/** Resolves when a line of the child's output matches, rejects if it exits first. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split("\n").find((l) => pattern.test(l));
      if (line !== undefined) {
        cleanup();
        resolve(line);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what} exited (${code}) before it was ready:\n${seen.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} not ready after ${timeoutMs} ms:\n${seen.slice(-2000)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly nodeId: string;
  /** Everything the process has written so far. */
  output(): string;
  /** Resolves once the output holds a line matching `pattern`: it comes through a pipe, after any reply a client saw. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  kill(): Promise<void>;
}

/** How a server run that was meant to end ended. */
export interface Exit {
  code: number | null;
  /** From start to exit. */
  ms: number;
  stderr: string;
}

/** Runs the server to its exit (it is killed at `deadlineMs`), for configurations that must not start. */
export function runToExit(env: Record<string, string>, deadlineMs = 20_000): Promise<Exit> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [SERVER_ENTRY], { env: { ...process.env, PORT: "0", ...env } });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, ms: Date.now() - started, stderr });
    });
  });
}

/**
 * Starts `node dist/server.js` as its own OS process. Without `port` it
 * listens on port 0 and reports the port it got, so no two tests can race
 * for one; a restart passes the port its clients know.
 */
export async function startNode(env: Record<string, string> = {}, port?: number): Promise<NodeProcess> {
  // Below info the server does not say it is listening: it gets a port of its own and is asked instead.
  const quiet = ["warn", "error", "fatal", "silent"].includes(env.LOG_LEVEL ?? "info");
  const wanted = port ?? (quiet ? await allocatePort() : 0);
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "info", ...env, PORT: String(wanted) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  let chosen = wanted;
  let node: string;
  if (quiet) {
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`chat node exited (${code}):\n${out.slice(-2000)}`))),
    );
    const health = async () =>
      (await fetch(`http://127.0.0.1:${wanted}/healthz`).then((r) => r.json())) as { node: string };
    const answered = (async () => {
      for (const end = Date.now() + 15_000; Date.now() < end; await sleep(50)) {
        const h = await health().catch(() => undefined);
        if (h) return h.node;
      }
      child.kill("SIGKILL");
      throw new Error(`chat node not answering /healthz after 15000 ms:\n${out.slice(-2000)}`);
    })();
    node = await Promise.race([answered, exited]);
  } else {
    const line = await waitForLine(child, /chat server listening/, 15000, "chat node");
    ({ node, port: chosen } = JSON.parse(line) as { node: string; port: number });
  }
  return {
    child,
    port: chosen,
    url: `http://127.0.0.1:${chosen}`,
    nodeId: node,
    output: () => out,
    waitForOutput: async (pattern, timeoutMs = 5000) => {
      const end = Date.now() + timeoutMs;
      while (!out.split("\n").some((l) => pattern.test(l))) {
        if (Date.now() > end) throw new Error(`no output line matching ${pattern} within ${timeoutMs} ms`);
        await sleep(20);
      }
    },
    stop: (signal = "SIGTERM") => stopChild(child, signal),
    kill: () => stopChild(child, "SIGKILL"),
  };
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  restart(): Promise<void>;
}

/** Starts a real redis-server on a port of its own, in a fresh directory; `extra` are config flags. */
export async function startRedis(extra: string[] = [], fixedPort?: number): Promise<RedisProcess> {
  const port = fixedPort ?? (await allocatePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-redis-"));
  let child: ChildProcess;
  const launch = async () => {
    child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", ...extra],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    await waitForLine(child, /Ready to accept connections/, 10000, "redis-server");
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: () => stopChild(child, "SIGTERM"),
    restart: launch,
  };
}
