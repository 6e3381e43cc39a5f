import os from "node:os";
import type { Ledger } from "./generator/messages.js";
import type { Generator } from "./generator/pool.js";
import { comeBack } from "./presence.js";
import { cpuMicros, listenOverflows, rssBytes } from "./proc-stats.js";
import { progress } from "./progress.js";
import { type Latency, latency } from "./stats.js";
import type { Stack, Target } from "./targets.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

const ROOM_SIZE = 10;
const roomOf = (i: number) => `r${Math.floor(i / ROOM_SIZE)}`;
/** The trickle runs this long before the kill: the latency the storm is read against. */
const CALM_MS = 5000;
/** The survivor's CPU is read over windows this long; its peak is the busiest one. */
const SAMPLE_MS = 1000;
const RSS_SAMPLE_MS = 100;

/** A restart storm (issue 25, item 4): one node of two killed under its clients, who all come to the other. */
export interface Storm {
  clients: number;
  /** The killed node's clients. */
  cut: number;
  /** Offered messages per second, over all rooms. */
  rate: number;
  /** Messages the publishers sent (all of them on the survivor, so each got a `mid`). */
  sent: number;
  /** From the SIGKILL until every cut client was connected to the survivor and its rejoin with `since` answered. */
  backSeconds: number;
  /** The same per cut client: median and 99th percentile; and until each was connected (before its rejoin). */
  backP50Seconds: number;
  backP99Seconds: number;
  connectedP50Seconds: number;
  connectedP99Seconds: number;
  /** Over every client, once the trickle ended: messages of its room it never received, and received twice. */
  lost: number;
  duplicates: number;
  /** Rejoins answered `recovered: false` (or not answered). */
  unrecovered: number;
  /** Clients that hold every message of their room exactly once. */
  exact: number;
  /** The survivor's clients it closed (healthy ones, never cut before), and the close codes of those closes. */
  healthyClosed: number;
  closeCodes: Record<string, number>;
  /** The survivor: RSS before the kill, its peak from the kill until everyone was back, and once all was quiet again. */
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  /** The survivor's CPU from the kill until everyone was back, in s, and its busiest SAMPLE_MS, in % of a core. */
  cpuSeconds: number;
  cpuPeakPct: number;
  /** Delivery latency to the clients never cut: in the CALM_MS before the kill, and from the kill until everyone was back. */
  calm: Latency;
  storm: Latency;
  /** Connections the kernel dropped for a full accept queue from the kill until everyone was back (the whole machine's). */
  listenOverflows: number;
  /** The machine's 1-minute load average as everyone was back. */
  loadAverage: number;
}

/** The survivor's RSS (every RSS_SAMPLE_MS) and CPU (over each SAMPLE_MS), until stopped: their peaks. */
function watch(pid: number) {
  let peakRss = rssBytes(pid);
  let peakCpu = 0;
  let last = cpuMicros(pid);
  const rss = setInterval(() => {
    peakRss = Math.max(peakRss, rssBytes(pid));
  }, RSS_SAMPLE_MS);
  const cpu = setInterval(() => {
    const used = cpuMicros(pid);
    peakCpu = Math.max(peakCpu, (used - last) / (SAMPLE_MS * 1000));
    last = used;
  }, SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(rss);
      clearInterval(cpu);
      return { peakRss: Math.max(peakRss, rssBytes(pid)), peakCpu };
    },
  };
}

/** Adds up what the clients made of their rooms' messages against what was sent to each room. */
function tally(ledgers: Ledger[], sentByRoom: Record<string, number>) {
  let lost = 0;
  let duplicates = 0;
  let unrecovered = 0;
  let exact = 0;
  for (const l of ledgers) {
    // Rooms start empty: a room's `mid`s run from 1 to the number of messages sent to it.
    const missing = l.gaps + Math.max(0, (sentByRoom[l.room ?? ""] ?? 0) - l.lastMid);
    lost += missing;
    duplicates += l.duplicates;
    unrecovered += l.unrecovered;
    if (missing === 0 && l.duplicates === 0) exact++;
  }
  return { lost, duplicates, unrecovered, exact };
}

/**
 * Two nodes (the stack's), `perNode` clients on each in rooms of 10 (each
 * room has members on both), a trickle of `rate` messages per second from
 * one member of each room on the node that survives. After CALM_MS the other
 * node is killed with SIGKILL; its clients come back to the survivor with
 * the web client's backoff and rejoin with `since`. Once everyone is back
 * and the trickle has ended, each client's messages are counted by `mid`.
 */
export async function storm(
  gen: Generator,
  target: Target,
  stack: Stack,
  perNode: number,
  rate: number,
  seconds: number,
  label: string,
): Promise<Storm> {
  if (stack.nodes.length !== 2) throw new Error("the storm runs on two nodes");
  const clients = 2 * perNode;
  const killed = 1;
  const [survivor] = stack.nodes.map((n) => n.pid) as [number];
  // Client i is on node i mod 2 (the generator's round robin).
  const onKilled = (i: number) => i % 2 === killed;
  progress(`${label}: connecting ${clients} clients`);
  const dial = { query: "lobby=0", admitted: true, reconnect: true, failover: true };
  const { failed } = await gen.connect(
    target.wire,
    stack.nodes.map((n) => n.port),
    clients,
    dial,
  );
  if (failed > 0) throw new Error(`${label}: ${failed} of ${clients} connections failed`);
  progress(`${label}: joining rooms of ${ROOM_SIZE}`);
  await gen.join(roomOf);
  const senders = [];
  for (let i = 0; i < clients; i += ROOM_SIZE) senders.push({ client: i + (onKilled(i) ? 1 : 0), room: roomOf(i) });
  // Joins announce themselves to the rooms: let that end first.
  await sleep(2000);

  const run = 1;
  await gen.begin(run);
  progress(`${label}: ${rate} msg/s for ${seconds} s, the kill after ${CALM_MS / 1000} s`);
  const trickle = gen.publish(run, rate, seconds, senders);
  await sleep(CALM_MS);
  const calm = latency((await gen.collect()).latencies);
  const closedBefore = (await gen.frames()).closed;
  const rssBefore = rssBytes(survivor);
  const cpu0 = cpuMicros(survivor);
  const watching = watch(survivor);
  const overflows = listenOverflows();
  const killedAt = now();
  await stack.stopNode(killed, "SIGKILL");
  progress(`${label}: node ${killed} killed, waiting for its ${perNode} clients`);
  const f = await comeBack(gen, closedBefore + perNode, killedAt, 120_000, label);
  const back = Math.max(killedAt, f.lastReconnectAt);
  const cpuSeconds = (cpuMicros(survivor) - cpu0) / 1e6;
  const { peakRss, peakCpu } = watching.stop();
  const overflowed = listenOverflows() - overflows;
  const during = latency((await gen.collect()).latencies);
  const loadAverage = os.loadavg()[0] ?? 0;
  progress(`${label}: everyone back, the trickle ending`);
  const sentByRoom = await trickle;
  // The last messages reach their rooms: wait until every client holds its room's last `mid`, or 15 s.
  let ledgers = await gen.ledgers();
  for (let waited = 0; waited < 15_000 && tally(ledgers, sentByRoom).exact < clients; waited += 250) {
    await sleep(250);
    ledgers = await gen.ledgers();
  }
  const closeCodes: Record<string, number> = {};
  let healthyClosed = 0;
  for (const [i, l] of ledgers.entries()) {
    if (onKilled(i) || l.cut === 0) continue;
    healthyClosed++;
    closeCodes[String(l.closedWith)] = (closeCodes[String(l.closedWith)] ?? 0) + 1;
  }
  const theirs = ledgers.filter((_, i) => onKilled(i));
  const since = (pick: (l: Ledger) => number) => {
    const s = theirs.map((l) => (pick(l) - killedAt) / 1000).sort((a, b) => a - b);
    return (q: number) => s[Math.ceil(q * s.length) - 1] ?? Number.NaN;
  };
  const [backAt, connectedAt] = [since((l) => l.backAt), since((l) => l.connectedAt)];
  return {
    clients,
    cut: perNode,
    rate,
    sent: Object.values(sentByRoom).reduce((a, b) => a + b, 0),
    backSeconds: (back - killedAt) / 1000,
    backP50Seconds: backAt(0.5),
    backP99Seconds: backAt(0.99),
    connectedP50Seconds: connectedAt(0.5),
    connectedP99Seconds: connectedAt(0.99),
    ...tally(ledgers, sentByRoom),
    healthyClosed,
    closeCodes,
    rssBeforeMiB: rssBefore / 2 ** 20,
    rssPeakMiB: peakRss / 2 ** 20,
    rssAfterMiB: rssBytes(survivor) / 2 ** 20,
    cpuSeconds,
    cpuPeakPct: 100 * peakCpu,
    calm,
    storm: during,
    listenOverflows: overflowed,
    loadAverage,
  };
}

/** The storm as the report prints it. */
export function stormReport(s: Storm): string {
  const ms = (l: Latency) => `p50 ${l.p50.toFixed(0)} / p99 ${l.p99.toFixed(0)} / max ${l.max.toFixed(0)} ms`;
  const codes = Object.entries(s.closeCodes).map(([code, n]) => `${n} with ${code}`);
  return [
    `restart storm: 2 nodes, ${s.clients} clients in rooms of ${ROOM_SIZE}, ${s.rate} msg/s; ` +
      `node 1 SIGKILLed, its ${s.cut} clients back on node 0 (load average ${s.loadAverage.toFixed(1)})`,
    "",
    `- every client back and rejoined with \`since\`: ${s.backSeconds.toFixed(1)} s after the kill ` +
      `(per client: median ${s.backP50Seconds.toFixed(1)} s, p99 ${s.backP99Seconds.toFixed(1)} s; ` +
      `connected, before the rejoin: median ${s.connectedP50Seconds.toFixed(1)} s, p99 ${s.connectedP99Seconds.toFixed(1)} s)`,
    `- messages: ${s.sent} sent; over all clients ${s.lost} missing, ${s.duplicates} duplicated, ` +
      `${s.unrecovered} rejoins not recovered; ${s.exact} of ${s.clients} clients hold every message exactly once`,
    `- the survivor: RSS ${s.rssBeforeMiB.toFixed(0)} MiB before, peak ${s.rssPeakMiB.toFixed(0)} MiB, ` +
      `${s.rssAfterMiB.toFixed(0)} MiB after; CPU ${s.cpuSeconds.toFixed(1)} s during the storm, ` +
      `busiest second ${s.cpuPeakPct.toFixed(0)} % of a core`,
    `- latency to the clients never cut: before the kill ${ms(s.calm)}; during the storm ${ms(s.storm)}`,
    `- connections dropped for a full accept queue (the kernel's ListenOverflows, machine-wide): ${s.listenOverflows}`,
    `- healthy clients the survivor closed: ${s.healthyClosed}${codes.length ? ` (${codes.join(", ")})` : ""}`,
    `- verdict: nothing lost, nothing twice, no healthy client closed — ` +
      (s.lost === 0 && s.duplicates === 0 && s.exact === s.clients && s.healthyClosed === 0 ? "met" : "missed"),
  ].join("\n");
}
