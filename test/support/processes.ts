import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { vi } from "vitest";
import { stopChild, waitForLine } from "./child-process.js";
import { allocatePort } from "./ports.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SERVER_ENTRY = path.join(root, "dist/server.js");

/**
 * The embedded archive's folder for one run: a temporary one of its own
 * (removed when the process exits), unless the test names one to keep
 * across a restart.
 */
function dataDirFor(env: Record<string, string>, child: () => ChildProcess): string {
  if (env.DATA_DIR !== undefined) return env.DATA_DIR;
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-data-"));
  queueMicrotask(() => child().once("exit", () => rmSync(dir, { recursive: true, force: true })));
  return dir;
}

export interface NodeProcess {
  readonly child: ChildProcess;
  /** Where its embedded archive is. */
  readonly dataDir: string;
  readonly port: number;
  readonly url: string;
  readonly nodeId: string;
  /** Everything the process has written so far. */
  output(): string;
  /** The node's /metrics text, from its own metrics port on loopback. */
  metrics(): Promise<string>;
  /** Resolves once the output holds a line matching `pattern`: it comes through a pipe, after any reply a client saw. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  kill(): Promise<void>;
}

/**
 * GET on a connection of its own, closed after: a kept-alive one that the
 * server times out just as it is reused answers ECONNRESET (seen with a busy node).
 */
function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve(body));
        res.on("error", reject);
      })
      .on("error", reject);
  });
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
    const DATA_DIR = dataDirFor(env, () => child);
    const child = spawn(process.execPath, [SERVER_ENTRY], { env: { ...process.env, PORT: "0", DATA_DIR, ...env } });
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

/** Tries at a port taken meanwhile by a process of another run on the machine. */
const PORT_TRIES = 3;

/**
 * Starts `node dist/server.js` as its own OS process. Without `port` it
 * listens on port 0 and reports the port it got, so no two tests can race
 * for one. `reserved`: on a port of this run's own (see allocatePort), for a
 * node the test restarts there, where no client socket can take it
 * meanwhile. A restart passes the port its clients know.
 */
export async function startNode(env: Record<string, string> = {}, port?: number | "reserved"): Promise<NodeProcess> {
  // Below info the server does not say it is listening: it gets a port of its own and is asked instead.
  const quiet = ["warn", "error", "fatal", "silent"].includes(env.LOG_LEVEL ?? "info");
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchNode(env, port === "reserved" || (port === undefined && quiet) ? await allocatePort() : port);
    } catch (err) {
      // Only a port it was handed can be taken before it binds (by another run: this one hands none out twice).
      const retry = typeof port !== "number" && attempt < PORT_TRIES && String(err).includes("EADDRINUSE");
      if (!retry) throw err;
    }
  }
}

async function launchNode(env: Record<string, string>, port: number | undefined): Promise<NodeProcess> {
  const quiet = ["warn", "error", "fatal", "silent"].includes(env.LOG_LEVEL ?? "info");
  const wanted = port ?? 0;
  // Where the node says what it got, it picks its own metrics port too: one handed to it could be taken before it binds.
  let metricsPort = env.METRICS_PORT ?? (quiet ? String(await allocatePort()) : "0");
  const dataDir = dataDirFor(env, () => child);
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      METRICS_PORT: metricsPort,
      DATA_DIR: dataDir,
      ...env,
      PORT: String(wanted),
    },
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
    const answered = vi
      .waitFor(async () => health(), { timeout: 15_000, interval: 50 })
      .then(
        (h) => h.node,
        () => {
          child.kill("SIGKILL");
          throw new Error(`chat node not answering /healthz after 15000 ms:\n${out.slice(-2000)}`);
        },
      );
    node = await Promise.race([answered, exited]);
  } else {
    const line = await waitForLine(child, /chat server listening/, 15000, "chat node");
    ({ node, port: chosen } = JSON.parse(line) as { node: string; port: number });
    // Logged before the line above, so already in `out`.
    const metricsLine = out.split("\n").find((l) => l.includes("metrics listening"));
    if (metricsLine !== undefined) metricsPort = String((JSON.parse(metricsLine) as { port: number }).port);
  }
  return {
    child,
    dataDir,
    port: chosen,
    url: `http://127.0.0.1:${chosen}`,
    nodeId: node,
    output: () => out,
    metrics: () => scrape(`http://127.0.0.1:${metricsPort}/metrics`),
    waitForOutput: async (pattern, timeoutMs = 5000) => {
      await vi.waitFor(
        () => {
          if (!out.split("\n").some((l) => pattern.test(l))) {
            throw new Error(`no output line matching ${pattern} within ${timeoutMs} ms`);
          }
        },
        { timeout: timeoutMs, interval: 20 },
      );
    },
    stop: (signal = "SIGTERM") => stopChild(child, signal),
    kill: () => stopChild(child, "SIGKILL"),
  };
}
