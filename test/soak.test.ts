/**
 * State that must be forgotten: a client joins and leaves 10 000 rooms, and
 * once the rooms' idle time has passed the node's memory and Redis's keys
 * are back near where they started.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { connectUser, say } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { startRedis } from "./support/redis-servers.js";
import { perTest } from "./support/scope.js";

const scope = perTest();

const ROOMS = 10_000;

async function metric(n: NodeProcess, name: string): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name));
  return Number(line?.split(" ").at(-1));
}

/** Joins, writes in and leaves ROOMS rooms, a batch at a time, as fast as the node answers. */
async function churn(n: NodeProcess): Promise<void> {
  const u = await connectUser(n.url, { query: "lobby=0" });
  scope.defer(() => u.client.close());
  for (let start = 0; start < ROOMS; start += 250) {
    const texts: string[] = [];
    for (let i = start; i < start + 250; i++) {
      texts.push(JSON.stringify({ action: "join", room: `soak-${i}` }));
      // A kilobyte a room: ten megabytes of history that must not stay behind.
      texts.push(JSON.stringify({ action: "message", room: `soak-${i}`, message: "passing through ".repeat(64) }));
      texts.push(JSON.stringify({ action: "leave", room: `soak-${i}`, ref: `l${i}` }));
    }
    await u.client.sendFrame(texts);
    await u.client.action("left", (f) => f.ref === `l${start + 249}`, 30_000);
  }
  expect(u.client.all("error")).toEqual([]);
  expect(await say(u, "x").catch(() => "not in a room")).toBe("not in a room");
  u.client.close();
}

it.each(["embedded", "Redis"])(
  "forgets 10 000 rooms nobody is in once their idle time has passed (%s)",
  async (mode) => {
    const redis = mode === "Redis" ? await startRedis() : undefined;
    if (redis) scope.defer(() => redis.stop());
    const inspect = redis ? new Redis(redis.url) : undefined;
    if (inspect) scope.defer(() => inspect.disconnect());
    const env: Record<string, string> = {
      RATE_LIMIT: "0",
      ROOM_IDLE_TTL: "2",
      MAX_FRAME_BYTES: "4194304",
      ...(redis ? { REDIS_URL: redis.url } : {}),
    };
    // A heap snapshot runs a full collection first: the node's heap is then what it holds, not its garbage.
    const snapshots = mkdtempSync(path.join(os.tmpdir(), "chat-soak-"));
    scope.defer(() => rmSync(snapshots, { recursive: true, force: true }));
    const n = await scope.node({
      ...env,
      NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`,
    });
    let taken = 0;
    const heldHeap = async () => {
      n.child.kill("SIGUSR2");
      taken++;
      await expect.poll(() => readdirSync(snapshots).length, { timeout: 30_000 }).toBe(taken);
      return metric(n, "nodejs_heap_size_used_bytes");
    };
    const keysBefore = inspect ? await inspect.dbsize() : 0;
    const heapBefore = await heldHeap();

    await churn(n);
    // Rooms used in the last idle time are still kept.
    if (mode === "embedded") expect(await metric(n, 'chat_rooms{where="stored"}')).toBeGreaterThan(100);
    if (inspect) expect(await inspect.dbsize()).toBeGreaterThan(keysBefore + 100);
    expect(await metric(n, 'chat_rooms{where="here"}')).toBe(0);

    // Two idle times later nothing of the rooms is left.
    await expect
      .poll(async () => (inspect ? inspect.dbsize() : metric(n, 'chat_rooms{where="stored"}')), {
        timeout: 15_000,
        interval: 500,
      })
      .toBeLessThanOrEqual(keysBefore + 2);
    // And what the heap holds is back near where it started: 10 000 rooms of a kilobyte would be ten MiB more.
    const heapAfter = await heldHeap();
    console.log(
      `${mode}: ${ROOMS} rooms joined, written in and left; heap held ${(heapBefore / 2 ** 20).toFixed(1)} -> ` +
        `${(heapAfter / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(heapAfter - heapBefore).toBeLessThan(3 * 2 ** 20);
  },
  120_000,
);
