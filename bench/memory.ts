import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Generator } from "./generator/pool.js";
import { allocations, perConnection } from "./heap-summary.js";
import { Inspector } from "./inspector.js";
import { freePort } from "./procs.js";
import { progress } from "./progress.js";
import { type Load, prepare, stackRss, step } from "./scenario.js";
import { type Stack, startStack, type Target } from "./targets.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the process says of its memory: RSS against V8's heap and the memory outside it. */
const MEMORY = `(() => {
  const m = process.memoryUsage();
  let spaces = {};
  try {
    spaces = Object.fromEntries(require("v8").getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
  } catch {}
  // Where the RSS lives: the brk heap (malloc's main arena), anonymous mappings (V8's pages,
  // malloc's large blocks and its other arenas) and files (the binary, libraries).
  const maps = { brk: 0, anonymous: 0, files: 0 };
  let kind = "files";
  for (const line of require("fs").readFileSync("/proc/self/smaps", "utf8").split("\\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \\S+ \\S+ \\S+ \\S+\\s*(.*)$/.exec(line);
    if (head) kind = head[1] === "[heap]" ? "brk" : head[1] === "" || head[1].startsWith("[anon") ? "anonymous" : "files";
    else if (line.startsWith("Rss:")) maps[kind] += Number(line.split(/\\s+/)[1]) * 1024;
  }
  return { ...m, spaces, maps };
})()`;

interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
  maps: Record<string, number>;
}

function usageTable(title: string, readings: [string, MemoryUsage][], connections: number): string {
  const names = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] as const;
  const [first, ...later] = readings;
  if (!first) return title;
  const values = (pick: (m: MemoryUsage) => number) => [
    ...readings.map(([, m]) => (pick(m) / 2 ** 20).toFixed(1)),
    ...later.map(([, m]) => ((pick(m) - pick(first[1])) / 1024 / connections).toFixed(2)),
  ];
  const rows = [
    ...names.map((n) => [n, ...values((m) => m[n])]),
    ...Object.keys(first[1].maps).map((k) => [`RSS in ${k} mappings`, ...values((m) => m.maps[k] ?? 0)]),
    ...Object.keys(first[1].spaces).map((s) => [`space ${s}`, ...values((m) => m.spaces[s] ?? 0)]),
  ];
  return [
    `${title}: MiB, then KiB per connection more than "${first[0]}"`,
    "",
    `| | ${readings.map(([label]) => label).join(" | ")} | ${later.map(([label]) => `${label}, per conn`).join(" | ")} |`,
    `|---|${[...readings, ...later].map(() => "---:").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/**
 * Where a connection's memory goes, ours on one node under its inspector:
 * heap snapshots before and after `idle` connected (rooms of 10, settled)
 * and what their connecting and joining allocated,
 * then, on a fresh stack, the busy room: its memory connected and in the
 * middle of the load, a sampling heap profile of the load, and snapshots in
 * the middle of the load and once quiet again.
 */
export async function heapProfile(
  target: Target,
  nodeArgs: string[],
  idle: Load,
  busy: Load,
  rate: number,
  seconds: number,
  settleSeconds: number,
  workers: number,
  dir: string,
): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  const file = (name: string) => path.join(dir, `${name}.heapsnapshot`);
  /** A fresh one-node stack under its inspector: one node holds every connection, and the snapshot sees them all. */
  const withInspected = async (measure: (gen: Generator, stack: Stack, inspector: Inspector) => Promise<void>) => {
    const port = await freePort();
    const stack = await startStack(target, 1, [...nodeArgs, `--inspect=127.0.0.1:${port}`]);
    const gen = new Generator(workers);
    try {
      const inspector = await Inspector.open(port);
      try {
        await measure(gen, stack, inspector);
      } finally {
        inspector.close();
      }
    } finally {
      await gen.stop();
      await stack.stop();
    }
  };

  await withInspected(async (gen, stack, inspector) => {
    const label = `heap, ${idle.name}`;
    await sleep(settleSeconds * 1000);
    progress(`${label}: snapshot before`);
    await inspector.snapshot(file("idle-before"));
    const before = await inspector.evaluate<MemoryUsage>(MEMORY);
    // Everything connecting and joining allocates, collected or not: the burst that sizes old space.
    await inspector.startSampling(true);
    await prepare(gen, target, stack, idle, label);
    const joining = (await inspector.stopSampling()) as Parameters<typeof allocations>[0];
    writeFileSync(path.join(dir, "idle-joining.heapprofile"), JSON.stringify(joining));
    progress(`${label}: settling ${settleSeconds} s`);
    await sleep(settleSeconds * 1000);
    const settled = await inspector.evaluate<MemoryUsage>(MEMORY);
    progress(`${label}: snapshot after`);
    await inspector.snapshot(file("idle-after"));
    const collected = await inspector.evaluate<MemoryUsage>(MEMORY);
    out.push(
      usageTable(
        `${idle.name}, one node`,
        [
          ["empty, after a GC", before],
          ["connected, settled", settled],
          ["connected, after a GC", collected],
        ],
        idle.clients,
      ),
      perConnection(file("idle-before"), file("idle-after"), idle.clients),
      allocations(
        joining,
        `allocated while ${idle.clients} clients connected and joined, garbage included`,
        20,
        idle.clients,
      ),
    );
  });

  await withInspected(async (gen, stack, inspector) => {
    const label = `heap, ${busy.name}`;
    await sleep(1000);
    const rssBefore = stackRss(stack);
    await prepare(gen, target, stack, busy, label);
    // No snapshot before the load: writing one leaves tens of MB in malloc's heap, which the RSS
    // under load would then be read against. What the load holds live is read instead against a
    // snapshot of the same room once quiet again.
    const connected = await inspector.evaluate<MemoryUsage>(MEMORY);
    await inspector.startSampling(false);
    const loaded = step(gen, stack, busy, rate, seconds, label, rssBefore);
    // Halfway through the load: what the heap holds while messages are in flight, garbage included,
    // by where it was allocated; then what of it is live (the snapshot pauses the node).
    await sleep((seconds * 1000) / 2);
    const during = await inspector.evaluate<MemoryUsage>(MEMORY);
    const profile = (await inspector.stopSampling()) as Parameters<typeof allocations>[0];
    await inspector.snapshot(file("busy-during"));
    const done = await loaded;
    await sleep(2000);
    progress(`${label}: snapshot quiet again`);
    await inspector.snapshot(file("busy-after"));
    out.push(
      usageTable(
        `${busy.name}, one node, ${rate} msg/s`,
        [
          ["connected", connected],
          ["under load", during],
        ],
        busy.clients,
      ),
      `under load, against the same room quiet again: ${perConnection(file("busy-after"), file("busy-during"), busy.clients)}`,
      allocations(
        profile,
        `on the heap ${seconds / 2} s into the load, by allocating function (live or not yet collected)`,
      ),
      `(the step: ${done.received} of ${done.expected} delivered, p99 ${done.p99.toFixed(0)} ms with the pauses, ` +
        `load average ${done.loadAverage.toFixed(1)})`,
    );
  });
  return out;
}
