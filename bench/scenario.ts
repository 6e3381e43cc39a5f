import os from "node:os";
import { type Breakdown, breakdown, watchNodes, watchRedis } from "./breakdown.js";
import type { Generator } from "./generator/pool.js";
import { cpuMicros, cpuWaitMicros, rssBytes, sum } from "./proc-stats.js";
import { progress } from "./progress.js";
import { type Latency, latency } from "./stats.js";
import type { Stack, Target } from "./targets.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Clients in rooms of `roomSize` (consecutive indices, so each room spans every node); the first `publishersPerRoom` of each room send. */
export interface Load {
  name: string;
  clients: number;
  roomSize: number;
  publishersPerRoom: number;
}

export interface Step extends Latency {
  /** Offered rate, messages per second over all publishers. */
  rate: number;
  seconds: number;
  sent: number;
  expected: number;
  received: number;
  lost: number;
  deliveredPerSec: number;
  /** Server CPU (every node, user + system) per delivery, µs. */
  serverUsPerDelivery: number;
  redisUsPerDelivery: number;
  /** The generator's own CPU over the step, in % of one core. */
  generatorPct: number;
  /** Client connections the servers closed during the step. */
  dropped: number;
  /** RSS of every node while the step ran (mean of samples), less what they held before any client connected, per client. */
  rssPerConnKiB: number;
  /** The machine's 1-minute load average as the step ended: RSS does not depend on it, latency does. */
  loadAverage: number;
  /** What the deliveries waited for; absent for combined steps. */
  breakdown?: Breakdown;
}

const roomOf = (load: Load) => (i: number) => `r${Math.floor(i / load.roomSize)}`;

function roomSizes(load: Load): Map<string, number> {
  const sizes = new Map<string, number>();
  for (let i = 0; i < load.clients; i++) sizes.set(roomOf(load)(i), (sizes.get(roomOf(load)(i)) ?? 0) + 1);
  return sizes;
}

function senders(load: Load) {
  const list: { client: number; room: string }[] = [];
  for (let i = 0; i < load.clients; i++) {
    if (i % load.roomSize < load.publishersPerRoom) list.push({ client: i, room: roomOf(load)(i) });
  }
  return list;
}

/** Connects and joins the clients; the caller runs steps on them, then disconnects. */
export async function prepare(gen: Generator, target: Target, stack: Stack, load: Load, label: string): Promise<void> {
  progress(`${label}: connecting ${load.clients} clients`);
  const { failed } = await gen.connect(
    target.wire,
    stack.nodes.map((n) => n.port),
    load.clients,
  );
  if (failed > 0) throw new Error(`${label}: ${failed} of ${load.clients} connections failed`);
  progress(`${label}: joining rooms of ${load.roomSize}`);
  await gen.join(roomOf(load));
  // Joins announce themselves to the room; let that traffic end before measuring.
  await sleep(1000);
}

let runs = 0;

/** Waits until every expected delivery arrived, or arrivals stop for a second. */
async function drain(gen: Generator, expected: number): Promise<void> {
  let seen = -1;
  let still = 0;
  for (let waited = 0; waited < 15_000; waited += 100) {
    const now = await gen.received();
    if (now >= expected) return;
    still = now === seen ? still + 100 : 0;
    if (still >= 1000) return;
    seen = now;
    await sleep(100);
  }
}

/** The nodes' RSS now, in bytes: taken before clients connect, it is what the load's figures are read against. */
export const stackRss = (stack: Stack): number =>
  sum(
    stack.nodes.map((n) => n.pid),
    rssBytes,
  );

/** Offers `rate` messages per second for `seconds` and measures what comes back. */
export async function step(
  gen: Generator,
  stack: Stack,
  load: Load,
  rate: number,
  seconds: number,
  label: string,
  rssBefore: number,
) {
  const run = ++runs;
  await gen.begin(run);
  const serverPids = stack.nodes.map((n) => n.pid);
  const rssSamples = [stackRss(stack)];
  const sampler = setInterval(() => rssSamples.push(stackRss(stack)), 200);
  const server0 = sum(serverPids, cpuMicros);
  const redis0 = cpuMicros(stack.redis.pid);
  const waited = () => [sum(serverPids, cpuWaitMicros), cpuWaitMicros(stack.redis.pid), cpuWaitMicros(process.pid)];
  const wait0 = waited();
  const readNodes = await watchNodes(stack.nodes);
  const readRedis = await watchRedis(stack.redis.port);
  const gen0 = process.cpuUsage();
  const started = performance.now();
  const ticker = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    progress(`${label}: ${rate} msg/s, ${Math.min(elapsed, seconds).toFixed(0)}/${seconds} s`);
  }, 500);
  const sentByRoom = await gen.publish(run, rate, seconds, senders(load)).finally(() => clearInterval(ticker));
  const sizes = roomSizes(load);
  const expected = Object.entries(sentByRoom).reduce((n, [room, sent]) => n + sent * (sizes.get(room) ?? 0), 0);
  await drain(gen, expected).finally(() => clearInterval(sampler));
  const wall = (performance.now() - started) / 1000;
  const genCpu = process.cpuUsage(gen0);
  const serverUs = sum(serverPids, cpuMicros) - server0;
  const redisUs = cpuMicros(stack.redis.pid) - redis0;
  const [nodesWait = 0, redisWait = 0, genWait = 0] = waited().map((us, i) => (us - (wait0[i] ?? 0)) / 1000);
  const nodeLoop = await readNodes();
  const redis = await readRedis();
  const collected = await gen.collect();
  const { received, latencies, closed } = collected;
  const result: Step = {
    rate,
    seconds,
    sent: Object.values(sentByRoom).reduce((a, b) => a + b, 0),
    expected,
    received,
    lost: Math.max(0, expected - received),
    deliveredPerSec: received / wall,
    serverUsPerDelivery: serverUs / Math.max(1, received),
    redisUsPerDelivery: redisUs / Math.max(1, received),
    generatorPct: ((genCpu.user + genCpu.system) / (wall * 1e6)) * 100,
    dropped: closed,
    rssPerConnKiB: (rssSamples.reduce((a, b) => a + b, 0) / rssSamples.length - rssBefore) / 1024 / load.clients,
    loadAverage: os.loadavg()[0] ?? 0,
    ...latency(latencies),
    breakdown: {
      ...breakdown(collected),
      generator: collected.threads,
      nodes: nodeLoop,
      redis,
      cpuWaitMs: { nodes: nodesWait, redis: redisWait, generator: genWait },
    },
  };
  return result;
}

export interface Idle {
  connections: number;
  /** RSS growth of every node, per connection, after the settle period. */
  rssPerConnKiB: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Server CPU while the connections sit idle (heartbeats, presence refresh), µs per connection per second. */
  idleUsPerConnSec: number;
  idleSeconds: number;
  /** The machine's 1-minute load average at the end. */
  loadAverage: number;
}

export async function idle(
  gen: Generator,
  target: Target,
  stack: Stack,
  load: Load,
  settleSeconds: number,
  idleSeconds: number,
  label: string,
): Promise<Idle> {
  const pids = stack.nodes.map((n) => n.pid);
  await sleep(settleSeconds * 1000);
  const before = sum(pids, rssBytes);
  await prepare(gen, target, stack, load, label);
  progress(`${label}: settling ${settleSeconds} s`);
  await sleep(settleSeconds * 1000);
  const after = sum(pids, rssBytes);
  progress(`${label}: idle for ${idleSeconds} s`);
  const cpu0 = sum(pids, cpuMicros);
  await sleep(idleSeconds * 1000);
  const cpu = sum(pids, cpuMicros) - cpu0;
  return {
    connections: load.clients,
    rssPerConnKiB: (after - before) / 1024 / load.clients,
    rssBeforeMiB: before / 2 ** 20,
    rssAfterMiB: after / 2 ** 20,
    idleUsPerConnSec: cpu / load.clients / idleSeconds,
    idleSeconds,
    loadAverage: os.loadavg()[0] ?? 0,
  };
}
