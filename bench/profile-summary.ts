import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: a package, Node's own code, or this project's files. */
export function origin(url: string): string {
  if (url === "") return "(V8 / native)";
  if (url.startsWith("node:")) return "node core";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  const own = /\/(dist|src|bench)\/(.*)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

export function frameName(node: Pick<ProfileNode, "callFrame">): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === "" ? "" : ` ${origin(url)}:${lineNumber + 1}`;
  return `${functionName || "(anonymous)"}${where}`;
}

const ranked = (totals: Map<string, number>, all: number, top: number) =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(
      ([name, us]) =>
        `| ${((100 * us) / all).toFixed(1)}% | ${(us / 1000).toFixed(0)} | ${name.replace(/\|/g, "\\|")} |`,
    );

/** Self time by function and by origin, as two Markdown tables; idle time is left out of the total. */
export function summarize(file: string, top = 20): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === "(idle)") return;
    busy += us;
    const name = frameName(node);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const group =
      node.callFrame.url === ""
        ? node.callFrame.functionName || "(V8 / native)"
        : origin(node.callFrame.url).replace(/:.*$/, "");
    byOrigin.set(group, (byOrigin.get(group) ?? 0) + us);
  });
  return [
    `${path.basename(file)}: ${(busy / 1e6).toFixed(2)} s of CPU sampled (idle excluded)`,
    "",
    "| self | ms | function |",
    "|---:|---:|---|",
    ...ranked(byFunction, busy, top),
    "",
    "| self | ms | where |",
    "|---:|---:|---|",
    ...ranked(byOrigin, busy, 12),
  ].join("\n");
}

/** Stretches of the thread busy without a break at least this long are what a message arriving then waits for. */
const LONG_TASK_MS = 10;

/**
 * What held the event loop: the stretches of consecutive busy samples (the
 * loop never returning to its poll), how many reached 5, 10 and 20 ms, and
 * the longest, each with the first frame of ours or of a package under its
 * samples' stacks (what the callback was for), as a Markdown table.
 */
export function longTasks(file: string, top = 12): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  /**
   * The outermost frame that is neither Node's own nor native (what the loop was called back for), and
   * the outermost of this project's under it (what of ours it ran).
   */
  const entry = (id: number): string => {
    let outer: ProfileNode | undefined;
    let ours: ProfileNode | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      const url = node?.callFrame.url ?? "";
      if (url === "" || url.startsWith("node:")) continue;
      outer = node;
      if (/\/(dist|src)\//.test(url)) ours = node;
    }
    const self = byId.get(id);
    if (!outer) return self ? frameName(self) : "?";
    return ours && ours !== outer ? `${frameName(outer)} › ${frameName(ours)}` : frameName(outer);
  };
  const stretches: { ms: number; entries: Map<string, number> }[] = [];
  let open: { ms: number; entries: Map<string, number> } | undefined;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (byId.get(id)?.callFrame.functionName === "(idle)") {
      if (open) stretches.push(open);
      open = undefined;
      return;
    }
    open ??= { ms: 0, entries: new Map() };
    open.ms += us / 1000;
    const name = entry(id);
    open.entries.set(name, (open.entries.get(name) ?? 0) + us / 1000);
  });
  if (open) stretches.push(open);
  const over = (ms: number) => stretches.filter((s) => s.ms >= ms);
  const longest = stretches.sort((a, b) => b.ms - a.ms).slice(0, top);
  const parts = (s: { entries: Map<string, number> }) =>
    [...s.entries.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([name, ms]) => `${name.replace(/\|/g, "\\|")} ${ms.toFixed(1)}`)
      .join("; ");
  const sum = (list: { ms: number }[]) => list.reduce((n, s) => n + s.ms, 0).toFixed(0);
  return [
    `${path.basename(file)}: busy stretches ≥ 5 / ${LONG_TASK_MS} / 20 ms: ${over(5).length} / ${over(LONG_TASK_MS).length} / ` +
      `${over(20).length} (${sum(over(5))} / ${sum(over(LONG_TASK_MS))} / ${sum(over(20))} ms in all)`,
    "",
    "| stretch ms | where its samples were, ms (first frame not Node's own) |",
    "|---:|---|",
    ...longest.map((s) => `| ${s.ms.toFixed(1)} | ${parts(s)} |`),
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) console.log(`${summarize(file)}\n`);
}
