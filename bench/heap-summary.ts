/**
 * What a heap holds per connection: two heap snapshots of one node (before
 * its clients connected, and with them) compared by constructor, each
 * class's growth divided by the connections, with what retains it; and a
 * sampling heap profile's allocations by function. Usable on its own:
 * `tsx bench/heap-summary.ts before.heapsnapshot after.heapsnapshot <connections>`.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { frameName, origin } from "./profile-summary.js";

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface ClassTotal {
  count: number;
  bytes: number;
  /** Classes of the objects that hold a reference to this class's, by count (strong edges only). */
  retainers: Map<string, number>;
}

/** A node's class as DevTools groups them: objects and closures by name, strings together, V8's internals by kind. */
function classOf(type: string, name: string): string {
  switch (type) {
    case "object":
    case "closure":
    case "native":
      return `${name.slice(0, 60)}${type === "closure" ? " (closure)" : ""}`;
    case "string":
    case "concatenated string":
    case "sliced string":
      return "(string)";
    case "array":
      return `(array ${name.slice(0, 40)})`;
    case "hidden":
    case "object shape":
      return `(system ${name.replace(/\d+/g, "#").slice(0, 40)})`;
    default:
      return `(${type})`;
  }
}

/** Count, bytes and retainers by class. */
export function classTotals(file: string): Map<string, ClassTotal> {
  const snap = JSON.parse(readFileSync(file, "utf8")) as RawSnapshot;
  const { meta } = snap.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ["type", "name", "self_size", "edge_count"].map((f) =>
    meta.node_fields.indexOf(f),
  ) as [number, number, number, number];
  const [edgeTypeAt, toAt] = ["type", "to_node"].map((f) => meta.edge_fields.indexOf(f)) as [number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf("weak");
  const count = snap.nodes.length / nf;
  const classes: string[] = new Array(count);
  const totals = new Map<string, ClassTotal>();
  for (let i = 0; i < count; i++) {
    const at = i * nf;
    const cls = classOf(
      nodeTypes[snap.nodes[at + typeAt] as number] ?? "?",
      snap.strings[snap.nodes[at + nameAt] as number] ?? "",
    );
    classes[i] = cls;
    let total = totals.get(cls);
    if (!total) {
      total = { count: 0, bytes: 0, retainers: new Map() };
      totals.set(cls, total);
    }
    total.count++;
    total.bytes += snap.nodes[at + sizeAt] as number;
  }
  let edge = 0;
  for (let i = 0; i < count; i++) {
    const from = classes[i] as string;
    const edges = snap.nodes[i * nf + edgeCountAt] as number;
    for (let e = 0; e < edges; e++, edge += ef) {
      if (snap.edges[edge + edgeTypeAt] === weak) continue;
      const to = classes[(snap.edges[edge + toAt] as number) / nf] as string;
      const retainers = totals.get(to)?.retainers;
      retainers?.set(from, (retainers.get(from) ?? 0) + 1);
    }
  }
  return totals;
}

/** The classes that grew most between two snapshots, per connection, as a Markdown table. */
export function perConnection(beforeFile: string, afterFile: string, connections: number, top = 25): string {
  const before = classTotals(beforeFile);
  const after = classTotals(afterFile);
  const sumBytes = (m: Map<string, ClassTotal>) => [...m.values()].reduce((n, t) => n + t.bytes, 0);
  const rows = [...after.entries()]
    .map(([cls, t]) => {
      const b = before.get(cls);
      const grewBy = (m: Map<string, number>, k: string) => (m.get(k) ?? 0) - (b?.retainers.get(k) ?? 0);
      const retainers = [...t.retainers.keys()]
        .map((k) => [k, grewBy(t.retainers, k)] as const)
        .filter(([, n]) => n > 0)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 3)
        .map(([k, n]) => `${k} ${(n / connections).toFixed(1)}`);
      return {
        cls,
        count: (t.count - (b?.count ?? 0)) / connections,
        bytes: (t.bytes - (b?.bytes ?? 0)) / connections,
        retainers,
      };
    })
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
  const total = (sumBytes(after) - sumBytes(before)) / connections;
  return [
    `heap per connection: ${total.toFixed(0)} B (${connections} connections; ` +
      `${(sumBytes(before) / 2 ** 20).toFixed(1)} MiB before, ${(sumBytes(after) / 2 ** 20).toFixed(1)} MiB after)`,
    "",
    "| class | objects/conn | bytes/conn | held by (references/conn) |",
    "|---|---:|---:|---|",
    ...rows.map(
      (r) =>
        `| ${r.cls.replace(/\|/g, "\\|")} | ${r.count.toFixed(2)} | ${r.bytes.toFixed(0)} | ${r.retainers.join("; ").replace(/\|/g, "\\|")} |`,
    ),
  ].join("\n");
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Our own code (dist/, src/), as against a package's or Node's. */
const isOurs = (url: string) => /\/(dist|src)\//.test(url) && !url.includes("node_modules");

/**
 * A sampling heap profile's bytes, as Markdown tables: by allocating
 * function, and by the nearest function of ours on the stack with where the
 * bytes were allocated (ours, a package, Node), so that what a package
 * allocates is charged to the call of ours that asked for it. `what` they
 * are; with `connections`, per connection too.
 */
export function allocations(profile: { head: SamplingNode }, what: string, top = 20, connections?: number): string {
  const byFunction = new Map<string, number>();
  const byCaller = new Map<string, number>();
  let all = 0;
  const walk = (node: SamplingNode, caller: string) => {
    const url = node.callFrame.url;
    const mine = isOurs(url) ? frameName(node) : caller;
    if (node.selfSize > 0) {
      const name = frameName(node);
      byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize);
      const where = url === "" ? "V8 / native" : isOurs(url) ? "ours" : origin(url);
      const key = `${mine} → ${where}`;
      byCaller.set(key, (byCaller.get(key) ?? 0) + node.selfSize);
      all += node.selfSize;
    }
    for (const child of node.children) walk(child, mine);
  };
  walk(profile.head, "(none of ours)");
  const perConn = (bytes: number) => (connections ? ` | ${(bytes / 1024 / connections).toFixed(2)}` : "");
  const table = (totals: Map<string, number>, heading: string) => [
    `| share | MiB${connections ? " | KiB/conn" : ""} | ${heading} |`,
    `|---:|---:|${connections ? "---:|" : ""}---|`,
    ...[...totals.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([name, bytes]) =>
          `| ${((100 * bytes) / all).toFixed(1)}% | ${(bytes / 2 ** 20).toFixed(2)}${perConn(bytes)} | ${name.replace(/\|/g, "\\|")} |`,
      ),
  ];
  const each = connections ? `, ${(all / 1024 / connections).toFixed(1)} KiB per connection` : "";
  return [
    `${what}: ${(all / 2 ** 20).toFixed(1)} MiB sampled${each}`,
    "",
    ...table(byFunction, "allocated in"),
    "",
    ...table(byCaller, "under our function → allocated by"),
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [first, second, connections] = process.argv.slice(2);
  // A saved sampling profile (`--heap` writes idle-joining.heapprofile): what it allocated.
  if (first?.endsWith(".heapprofile")) {
    const profile = JSON.parse(readFileSync(first, "utf8")) as { head: SamplingNode };
    console.log(allocations(profile, first, 30, second ? Number(second) : undefined));
  } else {
    if (!first || !second || !connections) {
      throw new Error("usage: heap-summary.ts <before> <after> <connections> | <profile.heapprofile> [connections]");
    }
    console.log(perConnection(first, second, Number(connections)));
  }
}
