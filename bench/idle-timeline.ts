/**
 * Where an idle node's memory goes over time, ours alone: `clients` connect
 * and join rooms of `room` over `nodes` nodes, then every 5 s each node's
 * RSS by mapping (malloc's brk heap, anonymous: V8's pages and malloc's large
 * blocks) and V8's old and new space, committed / used, from its /metrics
 * (prom-client's default metrics), and the quiet collections it made.
 *
 *   npx tsx bench/idle-timeline.ts [--flags "<node flags>"] [--server dist/server.js]
 *       [--nodes 2] [--clients 5000] [--room 10] [--seconds 35]
 *
 * `--flags` replaces npm start's (given by default), `--server` runs another build.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Generator } from "./generator/pool.js";
import { rssBytes, sum } from "./proc-stats.js";
import type { Proc } from "./procs.js";
import { prepare } from "./scenario.js";
import { ours, shippedNodeFlags, startStack } from "./targets.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
  options: {
    flags: { type: "string" },
    server: { type: "string", default: path.join(root, "dist/server.js") },
    nodes: { type: "string", default: "2" },
    clients: { type: "string", default: "5000" },
    room: { type: "string", default: "10" },
    seconds: { type: "string", default: "35" },
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function brk(pid: number): number {
  let inHeap = false;
  let bytes = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) inHeap = head[1] === "[heap]";
    else if (inHeap && line.startsWith("Rss:")) bytes += Number(line.split(/\s+/)[1]) * 1024;
  }
  return bytes;
}

async function reading(node: Proc): Promise<string> {
  const text = await (await fetch(node.metricsUrl as string)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  const space = (kind: "total" | "used", name: string) =>
    value(`nodejs_heap_space_size_${kind}_bytes\\{space="${name}"\\}`);
  return (
    `RSS ${MiB(rssBytes(node.pid))} (brk ${MiB(brk(node.pid))}), ` +
    `old ${MiB(space("total", "old"))}/${MiB(space("used", "old"))}, new ${MiB(space("total", "new"))}, ` +
    `quiet collections ${value("chat_quiet_collections_total")}, scavenges ${value("chat_quiet_scavenges_total")}, young growing ${value("chat_young_growing_seconds_total")} s`
  );
}

const target = ours(opts.server, false);
const flags = opts.flags === undefined ? shippedNodeFlags() : opts.flags.split(" ").filter(Boolean);
const clients = Number(opts.clients);
const stack = await startStack(target, Number(opts.nodes), flags);
const gen = new Generator(2);
try {
  const pids = stack.nodes.map((n) => n.pid);
  const show = async (label: string) =>
    console.log(`${label.padEnd(6)} ${(await Promise.all(stack.nodes.map(reading))).join(" | ")}`);
  await sleep(10_000);
  await show("empty");
  const before = sum(pids, rssBytes);
  const load = { name: "idle", clients, roomSize: Number(opts.room), publishersPerRoom: 0 };
  await prepare(gen, target, stack, load, `${flags.join(" ") || "no flags"}`);
  for (let s = 0; s <= Number(opts.seconds); s += 5) {
    await show(`+${s} s`);
    console.log(`       RSS per connection: ${((sum(pids, rssBytes) - before) / 1024 / clients).toFixed(2)} KiB`);
    await sleep(5000);
  }
} finally {
  await gen.stop();
  await stack.stop();
}
