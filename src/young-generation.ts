import { constants, PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";
import vm from "node:vm";

/** How often the scavenges' share of the time is read. */
const CHECK_MS = 1000;
/** V8's own factor, restored while the young generation may grow. */
const V8_GROWTH_FACTOR = 2;
/** Seconds in a row over the share before growth is allowed: a burst of joins is not a load. */
const PRESSED_SECONDS = 2;

export interface YoungGeneration {
  /** Seconds in which the young generation was allowed to grow. */
  readonly growingSeconds: number;
  stop(): void;
}

/**
 * V8's garbage collector, with or without `--expose-gc`: without it the flag
 * is set at run time and `gc` taken from a context made after it (Node's docs
 * warn that flags changed after start may misbehave; this one only installs
 * the function in new contexts).
 */
export function collectorFunction(): NodeJS.GCFunction {
  if (globalThis.gc) return globalThis.gc;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as NodeJS.GCFunction;
}

/**
 * Keeps the young generation at its start until `startYoungGeneration`
 * decides. server.ts calls it before it loads the server's modules: loading
 * them grew the young generation to 8–16 MiB semi-spaces, which a node busy
 * from its start kept through a whole 400 msg/s run.
 */
export function capYoungGeneration(): void {
  v8.setFlagsFromString("--semi-space-growth-factor=1");
}

/** The young generation's committed size (its two semi-spaces), in bytes. */
export function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
}

/**
 * Lets V8's young generation grow only while scavenges have cost the node
 * more than `growPercent` of its time for `PRESSED_SECONDS` in a row. V8
 * grows it by what survives scavenges, cumulatively, up to 16 MiB a
 * semi-space here: a burst of joins, or an idle node near V8's growth bar,
 * left 32 MiB per node committed, 13 KiB per idle connection at 2,500 a node.
 * A cap at start (`--max-semi-space-size=2`) kept that down but cost a node
 * storing thousands of messages a second a fifth to a third of its time in
 * scavenges. So the load sets the cap: V8's growth factor is 1 (no growth)
 * while scavenges are cheap and its own 2 while they are not; the quiet
 * collector gives a grown generation back once the node is quiet.
 * `growPercent` 0 leaves V8 its own sizing.
 */
export function startYoungGeneration(growPercent: number): YoungGeneration {
  let growingSeconds = 0;
  if (growPercent <= 0) {
    v8.setFlagsFromString(`--semi-space-growth-factor=${V8_GROWTH_FACTOR}`);
    return { growingSeconds, stop: () => undefined };
  }
  let scavengeMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavengeMs += e.duration;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  let growing: boolean | undefined;
  const allow = (grow: boolean) => {
    if (grow === growing) return;
    growing = grow;
    v8.setFlagsFromString(`--semi-space-growth-factor=${grow ? V8_GROWTH_FACTOR : 1}`);
  };
  allow(false);
  let pressed = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    pressed = (scavengeMs / (now - last)) * 100 > growPercent ? pressed + 1 : 0;
    allow(pressed >= PRESSED_SECONDS);
    if (growing) growingSeconds++;
    scavengeMs = 0;
    last = now;
  }, CHECK_MS);
  timer.unref();
  return {
    get growingSeconds() {
      return growingSeconds;
    },
    stop: () => {
      clearInterval(timer);
      observer.disconnect();
      allow(true);
    },
  };
}
