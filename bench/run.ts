/**
 * Our SockJS chat against Socket.IO + its Redis adapter and against a bare
 * `ws` server (the floor), on the same machine, with the same load
 * generator. `npm run bench` compares them; `-- --sweep` raises the rate
 * until each breaks; `-- --profile` profiles ours. Run `npm run build`
 * first: ours runs from dist/ (or --server).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Generator } from "./generator/pool.js";
import { summarize } from "./profile-summary.js";
import { progressDone } from "./progress.js";
import { combine, idleRows, loadRows, sweepTable, table } from "./report.js";
import { type Idle, idle, type Load, prepare, type Step, stackRss, step } from "./scenario.js";
import { chart } from "./svg.js";
import { floor, ours, socketIo, startStack, type Target } from "./targets.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const resultsDir = path.join(root, "bench/results");

const { values: opts } = parseArgs({
  options: {
    sweep: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    server: { type: "string" },
    nodes: { type: "string", default: "2" },
    workers: { type: "string", default: "1" },
    seconds: { type: "string" },
    rate: { type: "string" },
    "idle-seconds": { type: "string", default: "5" },
    settle: { type: "string", default: "30" },
    targets: { type: "string", default: "ours,socket.io,floor" },
    // Node/V8 flags for every target's server processes, e.g. "--max-semi-space-size=2".
    "node-args": { type: "string", default: "" },
    // Ours without the node flags `npm start` gives it, to see what they change.
    bare: { type: "boolean", default: false },
    only: { type: "string", default: "fanout,rooms,idle" },
    passes: { type: "string", default: "2" },
  },
});
const nodes = Number(opts.nodes);
const nodeArgs = opts["node-args"].split(" ").filter(Boolean);
const workers = Number(opts.workers);

const FANOUT: Load = {
  name: "one big room: 1000 clients, 4 publishers",
  clients: 1000,
  roomSize: 1000,
  publishersPerRoom: 4,
};
const ROOMS: Load = {
  name: "many small rooms: 1000 clients in 100 rooms of 10",
  clients: 1000,
  roomSize: 10,
  publishersPerRoom: 1,
};
const IDLE: Load = { name: "idle: 5000 connections in rooms of 10", clients: 5000, roomSize: 10, publishersPerRoom: 0 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a fresh stack and generator, runs the rates in order until `stop` says so twice, and tears it all down. */
async function runLoad(
  target: Target,
  load: Load,
  rates: number[],
  seconds: number,
  label: string,
  stop: (s: Step) => boolean = () => false,
  extraArgs: string[] = [],
): Promise<Step[]> {
  const stack = await startStack(target, nodes, [...nodeArgs, ...extraArgs]);
  const gen = new Generator(workers);
  const steps: Step[] = [];
  try {
    await sleep(1000);
    const rssBefore = stackRss(stack);
    await prepare(gen, target, stack, load, label);
    for (const rate of rates) {
      let s = await step(gen, stack, load, rate, seconds, label, rssBefore);
      // On a shared machine one bad step can be someone else's burst: a rate fails only twice in a row.
      if (stop(s)) {
        await sleep(2000);
        s = await step(gen, stack, load, rate, seconds, `${label} (again)`, rssBefore);
      }
      steps.push(s);
      if (stop(s)) break;
      await sleep(500);
    }
  } finally {
    // Clients first: a node's graceful shutdown waits for its websockets, and a profiled
    // node that is killed at the deadline instead never writes its profile.
    await gen.stop();
    await stack.stop();
  }
  return steps;
}

async function runIdle(target: Target, label: string): Promise<Idle> {
  const stack = await startStack(target, nodes, nodeArgs);
  const gen = new Generator(workers);
  try {
    return await idle(gen, target, stack, IDLE, Number(opts.settle), Number(opts["idle-seconds"]), label);
  } finally {
    await gen.stop();
    await stack.stop();
  }
}

async function compare(targets: Target[]): Promise<void> {
  const only = new Set(opts.only.split(","));
  const seconds = Number(opts.seconds ?? 5);
  const names = targets.map((t) => t.name);
  const out: string[] = [];
  const record: Record<string, unknown> = {};
  const loads: [string, Load, number, number][] = [
    ["fanout", FANOUT, Number(opts.rate ?? 20), Number(opts.passes)],
    ["rooms", ROOMS, Number(opts.rate ?? 1000), 1],
  ];
  for (const [key, load, rate, passes] of loads) {
    if (!only.has(key)) continue;
    const runs = new Map<string, Step[]>(names.map((n) => [n, []]));
    // A B A B: drift on a shared machine hits both targets alike.
    for (let pass = 1; pass <= passes; pass++) {
      for (const t of targets) {
        const [s] = await runLoad(t, load, [rate], seconds, `${key} ${t.name} pass ${pass}/${passes}`);
        runs.get(t.name)?.push(s as Step);
      }
    }
    const combined = names.map((n) => combine(runs.get(n) ?? []));
    record[key] = Object.fromEntries(runs);
    out.push(table(`${load.name}, ${rate} msg/s for ${seconds} s × ${passes}`, names, loadRows(combined)));
  }
  if (only.has("idle")) {
    const results: Idle[] = [];
    for (const t of targets) results.push(await runIdle(t, `idle ${t.name}`));
    record.idle = results;
    out.push(
      table(`${IDLE.name}, settled ${opts.settle} s, ${opts["idle-seconds"]} s idle window`, names, idleRows(results)),
    );
  }
  progressDone();
  writeResults("compare.json", record);
  console.log(out.join("\n\n"));
}

/** The highest rate a target sustained: nothing lost, nothing dropped, p99 within 500 ms. */
const sustained = (s: Step) => s.lost === 0 && s.dropped === 0 && s.p99 <= 500;

async function sweep(targets: Target[]): Promise<void> {
  const seconds = Number(opts.seconds ?? 5);
  const start = Number(opts.rate ?? 50);
  const rates = Array.from({ length: 16 }, (_, i) => Math.round(start * 1.3 ** i));
  const results = new Map<string, Step[]>();
  for (const t of targets) {
    results.set(t.name, await runLoad(t, FANOUT, rates, seconds, `sweep ${t.name}`, (s) => !sustained(s)));
  }
  progressDone();
  writeResults("sweep.json", Object.fromEntries(results));
  const colors = ["#1f77b4", "#d62728", "#2ca02c"];
  const series = (pick: (s: Step) => number) =>
    targets.map((t, i) => ({
      name: t.name,
      color: colors[i] ?? "#333",
      points: (results.get(t.name) ?? []).map((s) => ({ x: s.rate, y: pick(s) })),
    }));
  const svg = chart(
    `${FANOUT.name}, ${nodes} nodes + Redis, ${seconds} s per step`,
    "offered messages/s",
    { title: "delivered per second", yLabel: "deliveries/s", series: series((s) => s.deliveredPerSec) },
    {
      title: "p99 latency",
      yLabel: "ms",
      series: series((s) => Math.min(s.p99, 2000)),
      limit: { y: 500, label: "500 ms" },
    },
  );
  writeFileSync(path.join(root, "docs/bench-sweep.svg"), svg);
  for (const t of targets) {
    const steps = results.get(t.name) ?? [];
    const best = steps.filter(sustained).at(-1);
    console.log(`${sweepTable(t.name, steps)}\n`);
    console.log(
      best
        ? `${t.name}: highest sustained ${best.rate} msg/s = ${best.deliveredPerSec.toFixed(0)} deliveries/s\n`
        : `${t.name}: sustained none of the rates\n`,
    );
  }
  console.log("chart: docs/bench-sweep.svg");
}

async function profile(target: Target): Promise<void> {
  const dir = path.join(resultsDir, "profile");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const seconds = Number(opts.seconds ?? 20);
  const [s] = await runLoad(target, FANOUT, [Number(opts.rate ?? 20)], seconds, `profile ${target.name}`, undefined, [
    "--cpu-prof",
    "--cpu-prof-dir",
    dir,
  ]);
  progressDone();
  console.log(table(`profiled: ${FANOUT.name}`, [target.name], loadRows([s as Step])));
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    console.log(`\n${summarize(path.join(dir, file))}`);
  }
}

function writeResults(name: string, data: unknown): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, name), JSON.stringify(data, null, 1));
}

/** The targets `--targets` names, ours first: every ratio is ours against another. */
async function chosenTargets(): Promise<Target[]> {
  const mine = ours(opts.server ? path.resolve(opts.server) : undefined, !opts.bare);
  const known: Record<string, () => Promise<Target>> = {
    ours: async () => mine,
    "socket.io": socketIo,
    floor,
  };
  const names = opts.targets.split(",");
  const unknown = names.filter((n) => !(n in known));
  if (unknown.length > 0) throw new Error(`unknown target ${unknown.join(", ")}: choose from ${Object.keys(known)}`);
  return Promise.all(names.map((n) => (known[n] as () => Promise<Target>)()));
}

if (opts.profile) await profile((await chosenTargets())[0] as Target);
else if (opts.sweep) await sweep(await chosenTargets());
else await compare(await chosenTargets());
