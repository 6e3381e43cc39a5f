import os from "node:os";
import type { FrameCounts, FrameKind } from "./generator/codec.js";
import type { Dial, FramesReply } from "./generator/messages.js";
import type { Generator } from "./generator/pool.js";
import { cpuMicros, sum } from "./proc-stats.js";
import { progress } from "./progress.js";
import type { Stack, Target } from "./targets.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Presence has died down once no user_join, user_left or presence frame arrived for this long. */
const QUIET_MS = 2000;
/**
 * How long a departure may wait once its grace period (PRESENCE_GRACE) is
 * over before a node sweeps and announces it: nodes sweep once a second, a
 * few hundred at a time.
 */
const SWEEP_MARGIN_MS = 10_000;
/** The nodes' grace period: they inherit the bench's environment (procs.ts), 5 s unless it sets PRESENCE_GRACE. */
const GRACE_MS = 1000 * Number(process.env.PRESENCE_GRACE ?? 5);

/** Every presence frame, whatever its action, is also counted under this name. */
export const ANY_PRESENCE = "any presence";
export type Counted = FrameKind | typeof ANY_PRESENCE | "all";
/** The order the report lists them in. */
export const COUNTED: Counted[] = ["user_join", "user_left", "presence", ANY_PRESENCE, "other", "all"];

/** Mean and most frames per client, by kind, over a set of clients. */
export type FrameStats = Record<Counted, { mean: number; max: number }>;

export function frameStats(counts: FrameCounts[]): FrameStats {
  const of = (pick: (c: FrameCounts) => number) => {
    const values = counts.map(pick);
    return {
      mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
      max: values.reduce((a, b) => Math.max(a, b), 0),
    };
  };
  return {
    user_join: of((c) => c.user_join),
    user_left: of((c) => c.user_left),
    presence: of((c) => c.presence),
    [ANY_PRESENCE]: of((c) => c.user_join + c.user_left + c.presence),
    other: of((c) => c.other),
    all: of((c) => c.user_join + c.user_left + c.presence + c.other),
  };
}

/**
 * Of the clients ever told a room's size (`proto=2` clients of a big room),
 * the share whose last figure is `size`, in %: a count that arrived out of
 * order would leave them showing a wrong one. NaN when none was told one.
 */
function toldRight(told: number[], size: number): number {
  const toldAny = told.filter((n) => n >= 0);
  return (100 * toldAny.filter((n) => n === size).length) / toldAny.length;
}

/** Connecting a crowd: how long until every client was in, and what each was sent meanwhile. */
export interface Arrival {
  clients: number;
  query: string;
  /** From the first connection until every client's setup was done (its probe answered). */
  connectSeconds: number;
  /** Until then or until the last presence frame the arrivals caused reached a client, whichever came later. */
  settledSeconds: number;
  /** CPU time of every node (and of Redis) from the first connection until presence had been quiet QUIET_MS. */
  serverCpuSeconds: number;
  redisCpuSeconds: number;
  frames: FrameStats;
  /** Of the clients told the room's size, the % whose last figure was right (all of them in the room). */
  toldRight: number;
  /** The machine's 1-minute load average as the run ended: how much else was running. */
  loadAverage: number;
}

/** Several runs of one arrival as one: mean times, CPU and frames per client, and the most any client was sent. */
export function meanArrival(runs: Arrival[]): Arrival {
  const mean = (pick: (a: Arrival) => number) => runs.reduce((n, a) => n + pick(a), 0) / Math.max(1, runs.length);
  const frames = Object.fromEntries(
    COUNTED.map((kind) => [
      kind,
      { mean: mean((a) => a.frames[kind].mean), max: Math.max(...runs.map((a) => a.frames[kind].max)) },
    ]),
  ) as FrameStats;
  return {
    clients: runs[0]?.clients ?? 0,
    query: runs[0]?.query ?? "",
    connectSeconds: mean((a) => a.connectSeconds),
    settledSeconds: mean((a) => a.settledSeconds),
    serverCpuSeconds: mean((a) => a.serverCpuSeconds),
    redisCpuSeconds: mean((a) => a.redisCpuSeconds),
    frames,
    toldRight: mean((a) => a.toldRight),
    loadAverage: mean((a) => a.loadAverage),
  };
}

/**
 * Waits until no presence frame has arrived for QUIET_MS since `from` (ms
 * since the epoch), or `limitMs` have passed; returns the last frame counts.
 */
async function quiet(gen: Generator, from: number, limitMs: number): Promise<FramesReply> {
  for (;;) {
    const f = await gen.frames();
    const t = now();
    if (t - Math.max(from, f.lastPresenceAt) >= QUIET_MS || t - from >= limitMs) return f;
    await sleep(250);
  }
}

async function connectAll(gen: Generator, target: Target, stack: Stack, clients: number, dial: Dial, label: string) {
  progress(`${label}: connecting ${clients} clients (${dial.query || "no query"})`);
  const ports = stack.nodes.map((n) => n.port);
  const { failed } = await gen.connect(target.wire, ports, clients, dial);
  if (failed > 0) throw new Error(`${label}: ${failed} of ${clients} connections failed`);
}

/** Connects `clients` at the generator's steady pace and measures until their presence traffic has died down. */
export async function arrive(
  gen: Generator,
  target: Target,
  stack: Stack,
  clients: number,
  dial: Dial,
  label: string,
): Promise<Arrival> {
  const pids = stack.nodes.map((n) => n.pid);
  const server0 = sum(pids, cpuMicros);
  const redis0 = cpuMicros(stack.redis.pid);
  const started = now();
  await connectAll(gen, target, stack, clients, dial, label);
  const connected = now();
  progress(`${label}: waiting for presence to die down`);
  const f = await quiet(gen, connected, 120_000);
  return {
    clients,
    query: dial.query,
    connectSeconds: (connected - started) / 1000,
    settledSeconds: (Math.max(connected, f.lastPresenceAt) - started) / 1000,
    serverCpuSeconds: (sum(pids, cpuMicros) - server0) / 1e6,
    redisCpuSeconds: (cpuMicros(stack.redis.pid) - redis0) / 1e6,
    frames: frameStats(f.counts),
    toldRight: toldRight(f.told, clients),
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

/**
 * Waits until the generator has seen `closes` closes in all and none of the
 * clients it closed is still away; fails `limitMs` after `from` (ms since the epoch).
 */
export async function comeBack(
  gen: Generator,
  closes: number,
  from: number,
  limitMs: number,
  label: string,
): Promise<FramesReply> {
  let f = await gen.frames();
  while (f.down > 0 || f.closed < closes) {
    if (now() - from > limitMs) throw new Error(`${label}: ${f.down} clients still away ${limitMs / 1000} s after`);
    await sleep(100);
    f = await gen.frames();
  }
  return f;
}

/** One node restarted under a crowd: what the users on the other node were sent meanwhile. */
export interface Restart {
  clients: number;
  query: string;
  /** From SIGTERM until the node had exited (its graceful shutdown). */
  nodeStoppedSeconds: number;
  /** From SIGTERM until the node answered /readyz again. */
  nodeBackSeconds: number;
  /** From SIGTERM until every client of that node was connected again. */
  reconnectedSeconds: number;
  /** The window frames were counted over, from SIGTERM. */
  windowSeconds: number;
  /** Connections the restart closed: the restarted node's clients. */
  closed: number;
  /** Per client of the node that kept running, over the window. */
  remaining: FrameStats;
  /** Per client of the restarted node, over the window (its new connection's greeting included). */
  returning: FrameStats;
  /** Of the clients of the node that kept running told the room's size, the % whose last figure was right. */
  remainingToldRight: number;
  /** The machine's 1-minute load average as the window closed. */
  loadAverage: number;
}

/**
 * Connects `clients` (which come back on their own, see Dial.reconnect),
 * lets their arrival die down, then restarts the last node and counts what
 * every client receives from the SIGTERM until the last one came back and
 * every departure the restart scheduled was due, SWEEP_MARGIN_MS more, and
 * presence has been quiet QUIET_MS.
 */
export async function restart(
  gen: Generator,
  target: Target,
  stack: Stack,
  clients: number,
  dial: Dial,
  label: string,
): Promise<Restart> {
  await connectAll(gen, target, stack, clients, { ...dial, reconnect: true }, label);
  progress(`${label}: waiting for the arrivals to die down`);
  const before = await quiet(gen, now(), 120_000);
  const restarted = stack.nodes.length - 1;
  // Client i is on node i mod N (the generator's round robin).
  const onRestarted = (i: number) => i % stack.nodes.length === restarted;
  const theirs = before.counts.filter((_, i) => onRestarted(i)).length;
  await gen.begin(0);
  progress(`${label}: restarting node ${restarted}`);
  const sigterm = now();
  await stack.stopNode(restarted);
  const stopped = now();
  await stack.startNode(restarted);
  const back = now();
  progress(`${label}: waiting for ${theirs} clients to come back`);
  let f = await comeBack(gen, before.closed + theirs, back, 60_000, label);
  const reconnected = Math.max(back, f.lastReconnectAt);
  // The node's connections closed before it exited: their departures are due by then plus the grace period.
  const end = Math.max(reconnected, stopped + GRACE_MS) + SWEEP_MARGIN_MS;
  progress(`${label}: counting frames for ${((end - now()) / 1000).toFixed(0)} s more`);
  await sleep(Math.max(0, end - now()));
  f = await quiet(gen, now(), 60_000);
  return {
    clients,
    query: dial.query,
    nodeStoppedSeconds: (stopped - sigterm) / 1000,
    nodeBackSeconds: (back - sigterm) / 1000,
    reconnectedSeconds: (reconnected - sigterm) / 1000,
    windowSeconds: (now() - sigterm) / 1000,
    closed: f.closed - before.closed,
    remaining: frameStats(f.counts.filter((_, i) => !onRestarted(i))),
    returning: frameStats(f.counts.filter((_, i) => onRestarted(i))),
    remainingToldRight: toldRight(
      f.told.filter((_, i) => !onRestarted(i)),
      clients,
    ),
    loadAverage: os.loadavg()[0] ?? 0,
  };
}
