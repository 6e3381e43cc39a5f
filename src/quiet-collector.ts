import { type EventLoopUtilization, performance } from "node:perf_hooks";
import v8 from "node:v8";
import { youngGenerationBytes } from "./young-generation.js";

/** How often the heap and the event loop are looked at. */
const CHECK_MS = 1000;
/** Checks in a row with the event loop below QUIET_UTILIZATION before the node counts as quiet. */
const QUIET_CHECKS = 3;
/**
 * Busy under this: an idle node of 2500 connections (heartbeats, presence
 * sweeps) spends 2–4 % of its time, one taking a room's 400 msg/s far more.
 */
const QUIET_UTILIZATION = 0.1;
/**
 * A young generation above this is given back at rest: V8 starts it at
 * 1 MiB a semi-space and keeps 2 MiB committed for it at most when nothing
 * made it grow.
 */
const YOUNG_AT_REST_BYTES = 2 * 2 ** 20;
/**
 * V8 shrinks the young generation after a scavenge only when it allocated
 * under about 1 MB/s over the 5 s before it; a scavenge asked for sooner
 * after a burst, or on a node that allocates more at rest, shrinks nothing,
 * so it is asked for at most this often.
 */
const SHRINK_EVERY_MS = 5000;

export interface QuietCollector {
  /** Full collections asked for so far. */
  readonly collections: number;
  /** Scavenges asked for so far, to give back a grown young generation. */
  readonly scavenges: number;
  stop(): void;
}

/**
 * Gives back the heap a burst left committed (clients connecting and
 * joining, a busy room), once the event loop has been quiet for a few
 * seconds:
 * - when V8's heap outside the young generation has grown by `growthBytes`
 *   since the last collection, a full collection. V8's own memory reducer waits for the allocation rate to
 *   fall below about 1 MB/s, which an idle node with thousands of connections
 *   does not reach, so it never ran and old space kept what the burst had
 *   grown it to;
 * - when the young generation grew past what it holds at rest, a scavenge,
 *   after which V8 shrinks it if the node allocates little (it did so on its
 *   own only a minute or more after a burst, or never).
 * `growthBytes` 0 does neither.
 */
export function startQuietCollector(growthBytes: number, collect: NodeJS.GCFunction): QuietCollector {
  let collections = 0;
  let scavenges = 0;
  if (growthBytes <= 0) return { collections, scavenges, stop: () => undefined };
  // Outside the young generation, which grows and shrinks with the load and is given back below.
  const committed = () => v8.getHeapStatistics().total_heap_size - youngGenerationBytes();
  let base = committed();
  let quietFor = 0;
  let collecting = false;
  let lastScavenge = 0;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    quietFor = performance.eventLoopUtilization(now, last).utilization < QUIET_UTILIZATION ? quietFor + 1 : 0;
    last = now;
    const heap = committed();
    base = Math.min(base, heap);
    if (collecting || quietFor < QUIET_CHECKS) return;
    if (heap - base < growthBytes) {
      if (youngGenerationBytes() <= YOUNG_AT_REST_BYTES || performance.now() - lastScavenge < SHRINK_EVERY_MS) return;
      lastScavenge = performance.now();
      scavenges++;
      collect({ type: "minor" });
      return;
    }
    collecting = true;
    // A full collection frees the burst's garbage but leaves it spread over pages that still hold
    // live objects, committed: only compaction gives them back (the heap of 2500 connections:
    // old space 41 MiB committed for 28 used, before and after an uncompacted one).
    v8.setFlagsFromString("--compact-on-every-full-gc");
    collect({ type: "major", execution: "async" }).finally(() => {
      v8.setFlagsFromString("--no-compact-on-every-full-gc");
      collecting = false;
      collections++;
      base = committed();
    });
  }, CHECK_MS);
  timer.unref();
  return {
    get collections() {
      return collections;
    },
    get scavenges() {
      return scavenges;
    },
    stop: () => clearInterval(timer),
  };
}
