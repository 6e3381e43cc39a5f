import { expect, it } from "vitest";
import { HEARTBEAT_TICK_MS, LivePeers } from "../src/transport/live-peers.js";

/** A connection as the heartbeat sees it: it counts its beats, and may close others on its beat. */
class Counted {
  beats = 0;
  slice = -1;
  onBeat: () => void = () => undefined;
  heartbeat(): void {
    this.beats++;
    this.onBeat();
  }
}

const PERIOD_MS = 5 * HEARTBEAT_TICK_MS;
const SLICES = 5;
let live: LivePeers<Counted>;

/** A set of live connections whose ticks the test drives: its own timer is stopped. */
function start(count: number): Counted[] {
  live = new LivePeers(PERIOD_MS);
  live.stop();
  return Array.from({ length: count }, () => {
    const peer = new Counted();
    peer.slice = live.add(peer);
    return peer;
  });
}

const beatPeriods = (periods: number) => {
  for (let i = 0; i < periods * SLICES; i++) live.beat();
};

it("beats every live connection once per period, a slice a tick", () => {
  const peers = start(23);
  live.beat();
  // The first tick reaches the first slice only: 23 connections in 5 slices, 5 or 4 each.
  expect(peers.filter((p) => p.beats === 1)).toHaveLength(5);
  beatPeriods(3);
  // Three periods and a tick: every connection 3 times, the first slice's 4.
  expect(peers.map((p) => p.beats).sort()).toEqual([...Array(18).fill(3), ...Array(5).fill(4)]);
  expect(live.size).toBe(23);
  expect(new Set(peers.map((p) => p.slice))).toEqual(new Set([0, 1, 2, 3, 4]));
});

it("never beats a connection after it left, even one closed by a heartbeat earlier in its own slice", () => {
  const peers = start(20);
  const [first, second, third] = peers.filter((p) => p.slice === 0) as [Counted, Counted, Counted];
  first.onBeat = () => live.delete(second, second.slice);
  expect(live.delete(third, third.slice)).toBe(true);
  expect(live.delete(third, third.slice)).toBe(false);
  beatPeriods(2);
  expect([first.beats, second.beats, third.beats]).toEqual([2, 0, 0]);
  expect(live.size).toBe(18);
  expect(live.all()).toHaveLength(18);
  expect(peers.filter((p) => p !== second && p !== third).every((p) => p.beats === 2)).toBe(true);
});

it("beats a connection that joins between ticks within one period", () => {
  start(3);
  live.beat();
  live.beat();
  const late = new Counted();
  late.slice = live.add(late);
  beatPeriods(1);
  expect(late.beats).toBe(1);
});

it("gives a new connection its first heartbeat no sooner than a tenth of the interval, and no later than one", () => {
  const slices = 20;
  live = new LivePeers(slices * HEARTBEAT_TICK_MS);
  live.stop();
  const firstBeat: number[] = [];
  const opened: number[] = [];
  let now = 0;
  for (; now < 3 * slices; now++) {
    // Connections open between ticks, three at a time, and each notes the tick of its first heartbeat.
    for (let k = 0; k < 3; k++) {
      const i = opened.length;
      opened.push(now);
      const peer = new Counted();
      peer.onBeat = () => {
        firstBeat[i] ??= now;
      };
      live.add(peer);
    }
    live.beat();
  }
  const waits = opened.slice(0, 2 * slices * 3).map((t, i) => (firstBeat[i] as number) - t);
  expect(Math.min(...waits)).toBeGreaterThanOrEqual(slices / 10);
  expect(Math.max(...waits)).toBeLessThan(slices);
});
