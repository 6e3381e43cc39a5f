import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface Proc {
  readonly pid: number;
  readonly port: number;
  /** Where its Prometheus metrics are read, if it serves them (event-loop delay, GC). */
  readonly metricsUrl?: string;
  /** SIGTERM (a graceful stop, SIGKILL after 15 s), or `signal`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port the OS says is free now; the bench runs alone, so nothing takes it before the server binds it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Every child this process started, so an interrupted run still leaves nothing behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export function stopChild(child: ChildProcess, graceMs = 15_000, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      live.delete(child);
      resolve();
    });
    child.kill(signal);
  });
}

export function launch(
  command: string,
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  let out = "";
  const keep = (chunk: Buffer) => {
    // Only the tail matters, for an error message.
    out = (out + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return { child, output: () => out };
}

/** Polls until `ready` says yes; fails if the child exits first or the deadline passes. */
export async function waitReady(
  child: ChildProcess,
  output: () => string,
  ready: () => Promise<boolean>,
  what: string,
) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${output()}`);
    if (await ready().catch(() => false)) return;
    await sleep(50);
  }
  await stopChild(child);
  throw new Error(`${what} not ready after 15 s:\n${output()}`);
}

export async function startRedis(): Promise<Proc> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-redis-"));
  const { child, output } = launch(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    {},
  );
  await waitReady(child, output, async () => /Ready to accept connections/.test(output()), "redis-server");
  return {
    pid: child.pid as number,
    port,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a Node server that answers 200 on GET /readyz once it can take connections; on `port`, or a free one. */
export async function startNodeServer(
  args: string[],
  env: Record<string, string>,
  what: string,
  port?: number,
): Promise<Proc> {
  port ??= await freePort();
  const { child, output } = launch(process.execPath, args, { ...env, PORT: String(port), HOST: "127.0.0.1" });
  const ready = async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
  await waitReady(child, output, ready, what);
  return { pid: child.pid as number, port, stop: (signal) => stopChild(child, 15_000, signal) };
}
