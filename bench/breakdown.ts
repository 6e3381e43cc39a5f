import { Redis } from "ioredis";
import type { CollectReply, ThreadLoad } from "./generator/messages.js";
import type { Proc } from "./procs.js";
import { type Latency, latency } from "./stats.js";

/**
 * What a delivery waited for (issue 25, item 2), read from outside the
 * server: every delivery's latency cut at the publishing node's `ts` (when
 * it took the message up) and at its message's first delivery to anyone.
 * The three parts add up to the delivery's latency.
 */
export interface Stages {
  /** From the publisher's send to the publishing node's `ts`: the wire, the node's loop, its request queue. */
  toNode: number;
  /** From `ts` to the message's first delivery: the store-and-publish, Pub/Sub, a node's fan-out to its first member and the write. */
  toFirst: number;
  /** From the first delivery to this one: the rest of the fan-out, the writes, and the generator reading them. */
  spread: number;
  total: number;
}

export interface Breakdown {
  /** Means of the parts over the deliveries around the median (49th–51st percentile of latency). */
  atP50: Stages;
  /** The same around the 99th percentile (98.5th–99.5th). */
  atP99: Stages;
  /** Over messages: the send to `ts`, `ts` to the publisher's acknowledgement, and `ts` to the first delivery. */
  taken: Latency;
  ackAfterTaken: Latency;
  firstAfterTaken: Latency;
  /** Each generator thread's loop and collector: how long a receipt may wait to be read. */
  generator: ThreadLoad[];
  /** The server nodes' event-loop delay (worst node) and GC time; undefined where a target has no endpoint. */
  nodes?: NodeLoop;
  redis: RedisTime;
  /** How long the threads of the nodes, of Redis and of the generator (this process) waited for a CPU over the step, ms. */
  cpuWaitMs: { nodes: number; redis: number; generator: number };
}

export function breakdown(c: CollectReply): Omit<Breakdown, "generator" | "nodes" | "redis" | "cpuWaitMs"> {
  // A target whose frames carry no `ts` leaves `taken` empty: the messages are counted by their receipts.
  const messages = c.seqs.reduce((n, seq) => Math.max(n, seq + 1), c.taken.length);
  const first = new Float64Array(messages).fill(Number.POSITIVE_INFINITY);
  c.seqs.forEach((seq, i) => {
    first[seq] = Math.min(first[seq] as number, c.latencies[i] as number);
  });
  const sorted = Float64Array.from(c.latencies).sort();
  const band = (from: number, to: number): Stages => {
    const sum = { toNode: 0, toFirst: 0, spread: 0, total: 0 };
    const lo = sorted[Math.floor(from * sorted.length)] ?? Number.NaN;
    const hi = sorted[Math.min(sorted.length - 1, Math.floor(to * sorted.length))] ?? Number.NaN;
    let n = 0;
    c.latencies.forEach((total, i) => {
      if (total < lo || total > hi) return;
      const seq = c.seqs[i] as number;
      const firstAt = first[seq] as number;
      const taken = c.taken[seq] as number;
      // `ts` is Date.now() on the node, ms-coarse: kept within the message's first delivery.
      const toNode = Number.isNaN(taken) ? 0 : Math.min(Math.max(0, taken), firstAt);
      sum.toNode += toNode;
      sum.toFirst += firstAt - toNode;
      sum.spread += total - firstAt;
      sum.total += total;
      n++;
    });
    const mean = (v: number) => v / Math.max(1, n);
    return { toNode: mean(sum.toNode), toFirst: mean(sum.toFirst), spread: mean(sum.spread), total: mean(sum.total) };
  };
  const perMessage = (f: (seq: number) => number) =>
    latency(Float64Array.from(first.keys(), f).filter((v) => Number.isFinite(v)));
  return {
    atP50: band(0.49, 0.51),
    atP99: band(0.985, 0.995),
    taken: perMessage((s) => c.taken[s] as number),
    ackAfterTaken: perMessage((s) => (c.acked[s] as number) - (c.taken[s] as number)),
    firstAfterTaken: perMessage((s) => (first[s] as number) - (c.taken[s] as number)),
  };
}

/** prom-client's (its eventLoopMonitoringPrecision) and the floor's resolution of the event-loop histogram. */
const NODE_LOOP_RESOLUTION_MS = 10;

export interface NodeLoop {
  /** Event-loop delay of the worst node over the step, ms (monitorEventLoopDelay, beyond its 10 ms timer). */
  p50: number;
  p99: number;
  max: number;
  /** Garbage collection over the step, ms, all nodes; NaN where the node does not report it. */
  gcMs: number;
  /** Of that, the major collections' and their incremental marking steps' share, ms. */
  gcMajorMs: number;
  /** Of those collections, the pauses longer than 10 ms (prom-client's histogram bucket), all nodes. */
  gcOver10ms: number;
}

/** Reads a node's metrics (Prometheus text): the event-loop figures are since the last read, which resets them. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const space = line.lastIndexOf(" ");
    const key = line.slice(0, space);
    values.set(key, (values.get(key) ?? 0) + Number(line.slice(space + 1)));
  }
  return values;
}

/** GC seconds so far, of the kinds `kind` matches (prom-client's label: minor, major, incremental, weakcb). */
const gcSeconds = (m: Map<string, number>, kind = /./) => {
  let sum = Number.NaN;
  for (const [k, v] of m) {
    if (!k.startsWith("nodejs_gc_duration_seconds_sum") || !kind.test(/kind="([^"]*)"/.exec(k)?.[1] ?? "")) continue;
    sum = (Number.isNaN(sum) ? 0 : sum) + v;
  }
  return sum;
};
const MAJOR = /^(major|incremental)$/;

/** GC pauses longer than 10 ms: all of them less those within the 10 ms bucket, every kind. */
const gcLongPauses = (m: Map<string, number>) => {
  let n = 0;
  for (const [k, v] of m) {
    if (k.startsWith("nodejs_gc_duration_seconds_count")) n += v;
    else if (k.startsWith("nodejs_gc_duration_seconds_bucket") && k.includes('le="0.01"')) n -= v;
  }
  return n;
};

/** Starts reading the nodes' loops: resets their event-loop histograms; call the result when the step ends. */
export async function watchNodes(nodes: Proc[]): Promise<() => Promise<NodeLoop | undefined>> {
  const urls = nodes.map((n) => n.metricsUrl).filter((u): u is string => u !== undefined);
  if (urls.length === 0) return async () => undefined;
  const before = await Promise.all(urls.map(scrape));
  return async () => {
    const after = await Promise.all(urls.map(scrape));
    // monitorEventLoopDelay times the gap between its timer's runs: less the timer's 10 ms, the delay.
    const worst = (name: string) =>
      Math.max(...after.map((m) => (m.get(name) ?? Number.NaN) * 1000)) - NODE_LOOP_RESOLUTION_MS;
    return {
      p50: worst("nodejs_eventloop_lag_p50_seconds"),
      p99: worst("nodejs_eventloop_lag_p99_seconds"),
      max: worst("nodejs_eventloop_lag_max_seconds"),
      gcMs: after.reduce((n, m, i) => n + (gcSeconds(m) - gcSeconds(before[i] as Map<string, number>)) * 1000, 0),
      gcMajorMs: after.reduce(
        (n, m, i) => n + (gcSeconds(m, MAJOR) - gcSeconds(before[i] as Map<string, number>, MAJOR)) * 1000,
        0,
      ),
      gcOver10ms: after.reduce((n, m, i) => n + gcLongPauses(m) - gcLongPauses(before[i] as Map<string, number>), 0),
    };
  };
}

export interface RedisTime {
  /** Redis's own time per call of the store-and-publish script (EVALSHA) and of PUBLISH, µs. */
  usPerCall: Record<string, number>;
  /** Redis's time over the step, all commands, ms, and the command that took most of it. */
  busyMs: number;
  busiest: string;
  /** Commands that ran 1 ms or longer (SLOWLOG), and the longest, µs, and what it was: Redis serves nothing meanwhile. */
  slow: number;
  slowestUs: number;
  slowest: string;
}

/** A command as SLOWLOG gives it, named: a script by its first key, which says whose it is. */
function nameOf(args: string[]): string {
  const [command = "", ...rest] = args;
  const script = /^eval/i.test(command);
  return `${command.toLowerCase()} ${(script ? rest[2] : rest[0]) ?? ""}`.trim().slice(0, 48);
}

/** Starts counting Redis's time per command; call the result when the step ends. */
export async function watchRedis(port: number): Promise<() => Promise<RedisTime>> {
  const redis = new Redis(port, { lazyConnect: true });
  await redis.connect();
  await redis.config("SET", "slowlog-log-slower-than", "1000");
  await redis.slowlog("RESET");
  await redis.config("RESETSTAT");
  return async () => {
    const info = await redis.info("commandstats");
    const slowlog = (await redis.slowlog("GET", 128)) as [number, number, number, string[]][];
    redis.disconnect();
    const usPerCall: Record<string, number> = {};
    let busyUs = 0;
    let busiest = ["", 0] as [string, number];
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=\d+,usec=(\d+),usec_per_call=([\d.]+)/gm)) {
      const [, name = "", usec = "0", perCall = "0"] = m;
      usPerCall[name] = Number(perCall);
      busyUs += Number(usec);
      if (Number(usec) > busiest[1]) busiest = [name, Number(usec)];
    }
    const longest = slowlog.reduce<(typeof slowlog)[number] | undefined>(
      (a, e) => (a && a[2] >= e[2] ? a : e),
      undefined,
    );
    return {
      usPerCall,
      busyMs: busyUs / 1000,
      busiest: busiest[0],
      slow: slowlog.length,
      slowestUs: longest?.[2] ?? 0,
      slowest: longest ? nameOf(longest[3]) : "",
    };
  };
}
