import { type EventLoopUtilization, performance } from "node:perf_hooks";
import v8 from "node:v8";

/** How often the heap and the event loop are looked at. */
const CHECK_MS = 1000;
/** Checks in a row with the event loop below QUIET_UTILIZATION before the node counts as quiet. */
const QUIET_CHECKS = 3;
/**
 * Busy under this: an idle node of 2500 connections (heartbeats, presence
 * sweeps) spends 2–4 % of its time, one taking a room's 400 msg/s far more.
 */
const QUIET_UTILIZATION = 0.1;

export interface QuietCollector {
  /** Collections asked for so far. */
  readonly collections: number;
  stop(): void;
}

/**
 * Gives back the heap a burst left committed (clients connecting and
 * joining, a busy room): once V8's heap has grown by `growthBytes` since the
 * last collection and the event loop has been quiet for a few seconds, asks
 * V8 for a full collection. V8's own memory reducer waits for the
 * allocation rate to fall below about 1 MB/s, which an idle node with
 * thousands of connections does not reach, so it never ran and old space kept
 * what the burst had grown it to. Needs `--expose-gc` (npm start passes it);
 * without it, or with `growthBytes` 0, nothing is done.
 */
export function startQuietCollector(
  growthBytes: number,
  collect: NodeJS.GCFunction | undefined = globalThis.gc,
): QuietCollector {
  let collections = 0;
  if (!collect || growthBytes <= 0) return { collections, stop: () => undefined };
  const committed = () => v8.getHeapStatistics().total_heap_size;
  let base = committed();
  let quietFor = 0;
  let collecting = false;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    quietFor = performance.eventLoopUtilization(now, last).utilization < QUIET_UTILIZATION ? quietFor + 1 : 0;
    last = now;
    const heap = committed();
    base = Math.min(base, heap);
    if (collecting || quietFor < QUIET_CHECKS || heap - base < growthBytes) return;
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
    stop: () => clearInterval(timer),
  };
}
