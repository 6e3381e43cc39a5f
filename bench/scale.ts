import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Generator } from "./generator/pool.js";
import { Inspector } from "./inspector.js";
import { cpuMicros, rssBytes } from "./proc-stats.js";
import { freePort } from "./procs.js";
import { longTasks, summarize } from "./profile-summary.js";
import { progress } from "./progress.js";
import { breakdownTable, combine, loadRows, table, threadTable } from "./report.js";
import { type Load, prepare, type Step, stackRss, step } from "./scenario.js";
import { type Stack, startStack, type Target } from "./targets.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Clients per loopback source address. An address has 28,232 ephemeral ports
 * here, and the size before leaves its clients' ports in TIME_WAIT for 60 s
 * (the generator closes first): 15,000 then 19,000 from one address ran out
 * at 13,232.
 */
const CLIENTS_PER_SOURCE = 5000;

/** The busy room laid over the largest crowd: its members are the crowd's first 1,000, in room r0 besides their own. */
const BUSY: Load = { name: "one room of 1000, 4 publishers", clients: 1000, roomSize: 1000, publishersPerRoom: 4 };

export interface ScaleOptions {
  sizes: number[];
  /** Connections dialed per second. */
  connectRate: number;
  settleSeconds: number;
  idleSeconds: number;
  nodeArgs: string[];
  workers: number;
  /** The busy room's rate (msg/s), seconds per step, and steps with and without the crowd. */
  busyRate: number;
  busySeconds: number;
  passes: number;
  /** Where a CPU profile of each size's idle node goes; none without. */
  profileDir?: string;
  /** Where a CPU profile of the node over the first busy pass goes, among the crowd and alone; none without. */
  busyProfileDir?: string;
  /**
   * The busy room's members in generator threads of their own (`workers` of them, as the room alone
   * has), the rest of the crowd in others; else one set of threads holds everyone (`--scale-shared-generator`).
   */
  busyApart: boolean;
}

/** The file descriptors a process may open here (the nodes inherit the bench's limit). */
function openFilesLimit(): string {
  const limits = readFileSync("/proc/self/limits", "utf8");
  return /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits)?.slice(1, 3).join(" soft, ") ?? "unknown";
}

/** A fresh one-node stack and generator, the node under its inspector if `inspect`; both torn down after. */
async function oneNode<T>(
  target: Target,
  o: ScaleOptions,
  inspect: boolean,
  measure: (gen: Generator, stack: Stack, inspector?: Inspector) => Promise<T>,
): Promise<T> {
  const port = inspect ? await freePort() : 0;
  const stack = await startStack(target, 1, inspect ? [...o.nodeArgs, `--inspect=127.0.0.1:${port}`] : o.nodeArgs);
  const gen = new Generator(o.workers);
  const inspector = inspect ? await Inspector.open(port) : undefined;
  try {
    return await measure(gen, stack, inspector);
  } finally {
    inspector?.close();
    await gen.stop();
    await stack.stop();
  }
}

/**
 * Profiles the node over the next `seconds` while `during` runs (one busy pass), and summarizes it: its
 * self time by function, and the stretches it held the loop.
 */
async function profiled<T>(
  inspector: Inspector | undefined,
  dir: string | undefined,
  name: string,
  seconds: number,
  during: () => Promise<T>,
): Promise<{ result: T; summary?: string }> {
  if (!inspector || !dir) return { result: await during() };
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.cpuprofile`);
  const profile = inspector.cpuProfile(seconds * 1000);
  const result = await during();
  writeFileSync(file, JSON.stringify(await profile));
  return { result, summary: `${summarize(file, 12)}\n\n${longTasks(file)}` };
}

/** One size's idle figures. */
interface SizeRow {
  size: number;
  opened: number;
  failed: number;
  connectSeconds: number;
  connectCpuSeconds: number;
  joinSeconds: number;
  rssPerConnKiB: number;
  rssMiB: number;
  /** The node's RSS before any client connected, bytes: what the busy room's RSS is read against. */
  rssBefore: number;
  idleCpuPct: number;
  loadAverage: number;
}

/** The generators that hold a crowd: with `busy`, its threads hold the first BUSY.clients, `gen`'s the rest. */
interface Holders {
  gen: Generator;
  busy?: Generator;
}

/**
 * Dials `size` idle clients at the steady rate (each generator its share of it) and joins them to
 * rooms of 10, then reads the node settled and idle: its row, and with a profile directory, the
 * summary of a CPU profile of the idle node.
 */
async function crowd(
  { gen, busy }: Holders,
  target: Target,
  o: ScaleOptions,
  stack: Stack,
  size: number,
  inspector?: Inspector,
): Promise<{ row: SizeRow; profile?: string }> {
  const label = `scale ${size}`;
  const [pid] = stack.nodes.map((n) => n.pid) as [number];
  await sleep(o.settleSeconds * 1000);
  const before = rssBytes(pid);
  const cpu0 = cpuMicros(pid);
  progress(`${label}: connecting at ${o.connectRate}/s`);
  const t0 = performance.now();
  const port = stack.nodes[0]?.port ?? 0;
  const first = busy ? BUSY.clients : 0;
  const parts = [
    ...(busy ? [{ gen: busy, count: first, offset: 0 }] : []),
    { gen, count: size - first, offset: first },
  ];
  const dialed = await Promise.all(
    parts.map((p) => {
      const dial = {
        query: "lobby=0",
        admitted: true,
        reconnect: false,
        sourceAddresses: Math.ceil(p.count / CLIENTS_PER_SOURCE),
      };
      return p.gen.connect(target.wire, [port], p.count, dial, 100, (o.connectRate * p.count) / size);
    }),
  );
  const opened = dialed.reduce((n, d) => n + d.opened, 0);
  const failed = dialed.reduce((n, d) => n + d.failed, 0);
  const connectSeconds = (performance.now() - t0) / 1000;
  const connectCpu = (cpuMicros(pid) - cpu0) / 1e6;
  progress(`${label}: joining rooms of 10`);
  const t1 = performance.now();
  if (failed === 0) await Promise.all(parts.map((p) => p.gen.join((i) => `r${Math.floor((p.offset + i) / 10)}`)));
  const joinSeconds = (performance.now() - t1) / 1000;
  progress(`${label}: settling ${o.settleSeconds} s`);
  await sleep(o.settleSeconds * 1000);
  const after = rssBytes(pid);
  const cpu1 = cpuMicros(pid);
  await sleep(o.idleSeconds * 1000);
  const idleCpu = (cpuMicros(pid) - cpu1) / (o.idleSeconds * 1e6);
  const row: SizeRow = {
    size,
    opened,
    failed,
    connectSeconds,
    connectCpuSeconds: connectCpu,
    joinSeconds: failed === 0 ? joinSeconds : Number.NaN,
    rssPerConnKiB: (after - before) / 1024 / opened,
    rssMiB: after / 2 ** 20,
    rssBefore: before,
    idleCpuPct: 100 * idleCpu,
    loadAverage: os.loadavg()[0] ?? 0,
  };
  if (!inspector || !o.profileDir) return { row };
  progress(`${label}: profiling the idle node for ${o.idleSeconds} s`);
  mkdirSync(o.profileDir, { recursive: true });
  const file = path.join(o.profileDir, `idle-${size}.cpuprofile`);
  writeFileSync(file, JSON.stringify(await inspector.cpuProfile(o.idleSeconds * 1000)));
  return { row, profile: summarize(file, 12) };
}

/**
 * How cost grows with connections (issue 25, item 3): one node, idle
 * clients in rooms of 10, dialed at a steady rate from several loopback
 * addresses; at each size, the time to connect and join them, RSS per
 * connection once settled, and the node's idle CPU (then, with a profile
 * directory, a CPU profile of the idle node). At the largest size the first
 * 1,000 clients then also join one room that takes `busyRate` msg/s, read
 * against the same room on a node without the crowd. Those 1,000 are held
 * by generator threads of their own (`busyApart`), as many as alone: in
 * one block with the crowd they all fell in its first thread, which could
 * not read the room's deliveries as fast as two threads alone do.
 */
export async function scale(target: Target, o: ScaleOptions, record: Record<string, unknown>): Promise<string[]> {
  const rows: SizeRow[] = [];
  const largest = Math.max(...o.sizes);
  const crowded: Step[] = [];
  const profiles: string[] = [];
  for (const size of o.sizes) {
    const label = `scale ${size}`;
    const inspect = o.profileDir !== undefined || o.busyProfileDir !== undefined;
    await oneNode(target, o, inspect, async (gen, stack, inspector) => {
      // Apart, the busy room's members are timed by threads that hold nothing else, as alone.
      const apart = o.busyApart && size >= BUSY.clients;
      const busyGen = apart ? new Generator(o.workers) : gen;
      try {
        const { row, profile } = await crowd(
          apart ? { gen, busy: busyGen } : { gen },
          target,
          o,
          stack,
          size,
          inspector,
        );
        rows.push(row);
        if (profile) profiles.push(profile);
        if (size !== largest || row.failed > 0 || size < BUSY.clients) return;
        // Room r0 (clients 0–9) grows to the first 1,000: what BUSY's accounting counts as its room.
        await busyGen.join((i) => (i < BUSY.clients ? "r0" : undefined));
        await sleep(2000);
        for (let pass = 1; pass <= o.passes; pass++) {
          const { result, summary } = await profiled(
            pass === 1 ? inspector : undefined,
            o.busyProfileDir,
            `busy-among-${size}`,
            o.busySeconds,
            () => step(busyGen, stack, BUSY, o.busyRate, o.busySeconds, `${label}, busy room`, row.rssBefore),
          );
          crowded.push(result);
          if (summary) profiles.push(summary);
        }
      } finally {
        if (apart) await busyGen.stop();
      }
    });
  }
  const alone: Step[] = [];
  if (crowded.length > 0)
    await oneNode(target, o, o.busyProfileDir !== undefined, async (gen, stack, inspector) => {
      await sleep(1000);
      const before = stackRss(stack);
      await prepare(gen, target, stack, BUSY, "scale, busy room alone");
      for (let pass = 1; pass <= o.passes; pass++) {
        const { result, summary } = await profiled(
          pass === 1 ? inspector : undefined,
          o.busyProfileDir,
          "busy-alone",
          o.busySeconds,
          () => step(gen, stack, BUSY, o.busyRate, o.busySeconds, "scale, busy room alone", before),
        );
        alone.push(result);
        if (summary) profiles.push(summary);
      }
    });
  record.scale = { idle: rows, busy: { crowded, alone } };
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : "—");
  const out = [
    [
      `one node, idle clients in rooms of 10 dialed at ${o.connectRate}/s, settled ${o.settleSeconds} s, ` +
        `idle CPU over ${o.idleSeconds} s; open files: ${openFilesLimit()}`,
      "",
      "| connections | opened | failed | connect s | node CPU s connecting | join s | RSS KiB/conn | RSS MiB | idle CPU % of a core | load (1 min) |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.size} | ${r.opened} | ${r.failed} | ${f(r.connectSeconds, 1)} | ${f(r.connectCpuSeconds, 1)} | ` +
          `${f(r.joinSeconds, 1)} | ${f(r.rssPerConnKiB, 1)} | ${f(r.rssMiB, 0)} | ` +
          `${f(r.idleCpuPct, 2)} | ${f(r.loadAverage, 1)} |`,
      ),
    ].join("\n"),
  ];
  if (crowded.length > 0) {
    const [c, a] = [combine(crowded), combine(alone)];
    const cpu = c.serverUsPerDelivery / a.serverUsPerDelivery;
    const p99 = c.p99 / a.p99;
    out.push(
      table(
        `${BUSY.name} at ${o.busyRate} msg/s, ${o.busySeconds} s × ${o.passes}, one node: ` +
          `among ${largest} connections, and alone`,
        [`among ${largest}`, "alone"],
        loadRows([c, a]),
      ),
      `target: CPU per delivery and p99 among the crowd within 20 % of alone: CPU ${cpu.toFixed(2)}×, ` +
        `p99 ${p99.toFixed(2)}× — ${cpu <= 1.2 && p99 <= 1.2 ? "met" : "missed"}`,
    );
    const runs = new Map([
      [`among ${largest}`, crowded],
      ["alone", alone],
    ]);
    out.push(breakdownTable(runs), threadTable(runs));
  }
  return [...out, ...profiles];
}
