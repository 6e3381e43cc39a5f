import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) console.log(`${summarize(file)}\n`);
}
