import type { ThreadLoad } from "./generator/messages.js";
import { ANY_PRESENCE, type Arrival, COUNTED, type Restart } from "./presence.js";
import type { Idle, Step } from "./scenario.js";

export interface Row {
  metric: string;
  values: number[];
  digits: number;
}

const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : "—");

/** A plain text table: one column per target, then (with `ratios`) the first (ours) ÷ each of the others. */
export function table(title: string, targets: string[], rows: Row[], ratios = true): string {
  const others = ratios ? targets.slice(1) : [];
  const header = ["", ...targets, ...others.map((t) => `${targets[0]} / ${t}`)];
  const body = rows.map((r) => {
    const [a = Number.NaN, ...rest] = r.values;
    const quotients = (ratios ? rest : []).map((b) => (b === 0 || !Number.isFinite(b) ? "—" : `${fmt(a / b, 2)}×`));
    return [r.metric, ...r.values.map((v) => fmt(v, r.digits)), ...quotients];
  });
  const widths = header.map((_, c) => Math.max(...[header, ...body].map((line) => (line[c] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [`${title}`, "", line(header), rule, ...body.map(line)].join("\n");
}

/** Several runs of one scenario on one target as one: totals for rates and CPU, the worst tail. */
export function combine(steps: Step[]): Step {
  const total = (pick: (s: Step) => number) => steps.reduce((n, s) => n + pick(s), 0);
  const received = total((s) => s.received);
  const weighted = (pick: (s: Step) => number) => total((s) => pick(s) * s.received) / Math.max(1, received);
  const median = (pick: (s: Step) => number) => {
    const v = steps.map(pick).sort((a, b) => a - b);
    return v[Math.floor((v.length - 1) / 2)] ?? Number.NaN;
  };
  return {
    rate: steps[0]?.rate ?? 0,
    seconds: total((s) => s.seconds),
    sent: total((s) => s.sent),
    expected: total((s) => s.expected),
    received,
    lost: total((s) => s.lost),
    deliveredPerSec: median((s) => s.deliveredPerSec),
    serverUsPerDelivery: weighted((s) => s.serverUsPerDelivery),
    redisUsPerDelivery: weighted((s) => s.redisUsPerDelivery),
    generatorPct: Math.max(...steps.map((s) => s.generatorPct)),
    dropped: total((s) => s.dropped),
    rssPerConnKiB: Math.max(...steps.map((s) => s.rssPerConnKiB)),
    loadAverage: Math.max(...steps.map((s) => s.loadAverage)),
    p50: median((s) => s.p50),
    p90: median((s) => s.p90),
    p99: Math.max(...steps.map((s) => s.p99)),
    max: Math.max(...steps.map((s) => s.max)),
  };
}

export function loadRows(steps: Step[]): Row[] {
  const pick = (metric: string, digits: number, f: (s: Step) => number): Row => ({
    metric,
    digits,
    values: steps.map(f),
  });
  return [
    pick("server CPU µs/delivery", 2, (s) => s.serverUsPerDelivery),
    pick("Redis CPU µs/delivery", 3, (s) => s.redisUsPerDelivery),
    pick("deliveries/s", 0, (s) => s.deliveredPerSec),
    pick("deliveries lost", 0, (s) => s.lost),
    pick("latency p50 ms", 1, (s) => s.p50),
    pick("latency p99 ms", 1, (s) => s.p99),
    pick("latency max ms", 1, (s) => s.max),
    pick("RSS KiB/connection under load", 1, (s) => s.rssPerConnKiB),
    pick("generator CPU % of a core", 0, (s) => s.generatorPct),
    pick("load average (1 min) at the end", 1, (s) => s.loadAverage),
  ];
}

export function idleRows(idle: Idle[]): Row[] {
  return [
    { metric: "RSS KiB/connection", digits: 1, values: idle.map((i) => i.rssPerConnKiB) },
    { metric: "RSS MiB, all nodes, connected", digits: 0, values: idle.map((i) => i.rssAfterMiB) },
    { metric: "idle CPU µs/conn/s", digits: 3, values: idle.map((i) => i.idleUsPerConnSec) },
    { metric: "load average (1 min) at the end", digits: 1, values: idle.map((i) => i.loadAverage) },
  ];
}

export function sweepTable(target: string, steps: Step[]): string {
  const head =
    "| offered msg/s | delivered/s | lost | p50 ms | p99 ms | server µs/delivery | RSS KiB/conn | generator % |";
  const rule = "|---:|---:|---:|---:|---:|---:|---:|---:|";
  const rows = steps.map(
    (s) =>
      `| ${s.rate} | ${fmt(s.deliveredPerSec, 0)} | ${s.lost} | ${fmt(s.p50, 1)} | ${fmt(s.p99, 1)} | ` +
      `${fmt(s.serverUsPerDelivery, 2)} | ${fmt(s.rssPerConnKiB, 1)} | ${fmt(s.generatorPct, 0)} |`,
  );
  return [`${target}`, "", head, rule, ...rows].join("\n");
}

export function arrivalRows(arrivals: Arrival[]): Row[] {
  const pick = (metric: string, digits: number, f: (a: Arrival) => number): Row => ({
    metric,
    digits,
    values: arrivals.map(f),
  });
  return [
    pick("connected, s", 1, (a) => a.connectSeconds),
    pick("connected and presence delivered, s", 1, (a) => a.settledSeconds),
    pick("server CPU, s", 1, (a) => a.serverCpuSeconds),
    pick("Redis CPU, s", 1, (a) => a.redisCpuSeconds),
    pick("presence frames/client, mean", 1, (a) => a.frames[ANY_PRESENCE].mean),
    pick("presence frames/client, max", 0, (a) => a.frames[ANY_PRESENCE].max),
    pick("frames/client, mean", 1, (a) => a.frames.all.mean),
    pick("frames/client, max", 0, (a) => a.frames.all.max),
    pick("told the right room size last, % of those told one", 1, (a) => a.toldRight),
    pick("load average (1 min) at the end", 1, (a) => a.loadAverage),
  ];
}

/** Frames per client over a restart's window, by kind: on the node that kept running, and on the restarted one. */
export function restartTable(r: Restart): string {
  const title =
    `${r.clients} clients (${r.query || "no query"}): the node had stopped ${r.nodeStoppedSeconds.toFixed(1)} s ` +
    `after SIGTERM and was back ${r.nodeBackSeconds.toFixed(1)} s after, ` +
    `its ${r.closed} clients ${r.reconnectedSeconds.toFixed(1)} s after; frames counted for ${r.windowSeconds.toFixed(1)} s ` +
    `(load average ${r.loadAverage.toFixed(1)}); ` +
    (Number.isFinite(r.remainingToldRight)
      ? `of the remaining users told the room's size, ${r.remainingToldRight.toFixed(1)} % were last told the right one`
      : "no remaining user was ever told the room's size");
  const rows = COUNTED.map((kind) => ({
    metric: kind,
    digits: 2,
    values: [r.remaining[kind].mean, r.remaining[kind].max, r.returning[kind].mean, r.returning[kind].max],
  }));
  return table(title, ["remaining, mean", "remaining, max", "returning, mean", "returning, max"], rows, false);
}

/** The worst generator thread's loop delay, by each figure. */
const worstLoop = (threads: ThreadLoad[]) => ({
  p50: Math.max(...threads.map((t) => t.loopDelayMs.p50)),
  p99: Math.max(...threads.map((t) => t.loopDelayMs.p99)),
  max: Math.max(...threads.map((t) => t.loopDelayMs.max)),
});

/** What each step's deliveries waited for (bench/breakdown.ts), one line per target and pass; times in ms. */
export function breakdownTable(runs: Map<string, Step[]>): string {
  const head =
    "| target | pass | p50 | send→node | node→first | first→this | p99 | send→node | node→first | first→this | " +
    "ack after ts p50/p99 | first after ts p50/p99 | generator loop p50/p99/max (worst thread) | generator GC ms / longest | " +
    "nodes' loop p50/p99/max | nodes' GC ms: all / major / pauses > 10 ms | " +
    "EVALSHA / PUBLISH µs | Redis busy ms | Redis ≥ 1 ms: count / longest ms | waited for a CPU ms: nodes / Redis / generator | load |";
  const rule = `|---|${"---:|".repeat(20)}`;
  const rows: string[] = [];
  for (const [target, steps] of runs) {
    steps.forEach((s, i) => {
      const b = s.breakdown;
      if (!b) return;
      const parts = (x: { toNode: number; toFirst: number; spread: number; total: number }) =>
        [x.total, x.toNode, x.toFirst, x.spread].map((v) => fmt(v, 1));
      const pair = (a: number, c: number) => `${fmt(a, 1)} / ${fmt(c, 1)}`;
      const triple = (l: { p50: number; p99: number; max: number }) => `${pair(l.p50, l.p99)} / ${fmt(l.max, 0)}`;
      const cells = [
        target,
        String(i + 1),
        ...parts(b.atP50),
        ...parts(b.atP99),
        pair(b.ackAfterTaken.p50, b.ackAfterTaken.p99),
        pair(b.firstAfterTaken.p50, b.firstAfterTaken.p99),
        triple(worstLoop(b.generator)),
        `${fmt(
          b.generator.reduce((n, t) => n + t.gcMs, 0),
          0,
        )} / ${fmt(Math.max(...b.generator.map((t) => t.gcMaxMs)), 1)}`,
        b.nodes ? triple(b.nodes) : "—",
        b.nodes ? `${fmt(b.nodes.gcMs, 0)} / ${fmt(b.nodes.gcMajorMs, 0)} / ${b.nodes.gcOver10ms}` : "—",
        `${fmt(b.redis.usPerCall.evalsha ?? Number.NaN, 1)} / ${fmt(b.redis.usPerCall.publish ?? Number.NaN, 1)}`,
        `${fmt(b.redis.busyMs, 0)} (${b.redis.busiest})`,
        `${b.redis.slow} / ${fmt(b.redis.slowestUs / 1000, 1)}${b.redis.slow > 0 ? ` (${b.redis.slowest})` : ""}`,
        [b.cpuWaitMs.nodes, b.cpuWaitMs.redis, b.cpuWaitMs.generator].map((v) => fmt(v, 0)).join(" / "),
        fmt(s.loadAverage, 1),
      ];
      rows.push(`| ${cells.join(" | ")} |`);
    });
  }
  return [
    "What the deliveries waited for (means over the deliveries around p50 and p99; `ts` is when the publishing node took the message up)",
    "",
    head,
    rule,
    ...rows,
  ].join("\n");
}

/** Each generator thread that timed a step's deliveries: its clients, loop, collector and heap; times in ms. */
export function threadTable(runs: Map<string, Step[]>): string {
  const head = "| run | pass | thread | clients | loop p50 / p99 / max | GC total / longest | heap MiB | loop busy % |";
  const rows: string[] = [];
  for (const [run, steps] of runs) {
    for (const [i, s] of steps.entries()) {
      for (const [n, t] of (s.breakdown?.generator ?? []).entries()) {
        const l = t.loopDelayMs;
        const cells = [run, String(i + 1), String(n + 1), String(t.clients)];
        cells.push(
          `${fmt(l.p50, 1)} / ${fmt(l.p99, 1)} / ${fmt(l.max, 0)}`,
          `${fmt(t.gcMs, 0)} / ${fmt(t.gcMaxMs, 1)}`,
        );
        cells.push(fmt(t.heapMiB, 0), fmt(100 * t.busy, 0));
        rows.push(`| ${cells.join(" | ")} |`);
      }
    }
  }
  return [
    "The generator threads that timed the deliveries",
    "",
    head,
    `|---|---:|---:|${"---:|".repeat(5)}`,
    ...rows,
  ].join("\n");
}
