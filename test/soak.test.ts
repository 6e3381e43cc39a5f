/**
 * State that must be forgotten: a client joins and leaves 10 000 rooms, and
 * once the rooms' idle time has passed the node's memory and Redis's keys
 * are back near where they started. State that must be bounded: one address
 * writing as fast as it is let for a minute grows Redis and an embedded
 * node's heap by at most STORAGE_BOUND, while another address chats.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { startRedis } from "./support/redis-servers.js";
import { perTest } from "./support/scope.js";

const scope = perTest();

const ROOMS = 10_000;

async function metric(n: NodeProcess, name: string): Promise<number> {
  const text = await n.metrics();
  const line = text.split("\n").find((l) => l.startsWith(name));
  return Number(line?.split(" ").at(-1));
}

/**
 * A node whose heap can be measured as what it holds: a heap snapshot runs a
 * full collection first, so the heap is then not its garbage.
 */
async function measuredNode(env: Record<string, string>): Promise<{ n: NodeProcess; heldHeap: () => Promise<number> }> {
  const snapshots = mkdtempSync(path.join(os.tmpdir(), "chat-soak-"));
  scope.defer(() => rmSync(snapshots, { recursive: true, force: true }));
  const n = await scope.node({ ...env, NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}` });
  let taken = 0;
  const heldHeap = async () => {
    n.child.kill("SIGUSR2");
    taken++;
    await expect.poll(() => readdirSync(snapshots).length, { timeout: 30_000 }).toBe(taken);
    return metric(n, "nodejs_heap_size_used_bytes");
  };
  return { n, heldHeap };
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
    // One client making 10 000 rooms: what a user may store and start is the other test's.
    const env: Record<string, string> = {
      RATE_LIMIT: "0",
      WRITE_BYTES_PER_USER: "0",
      WRITE_BYTES_PER_IP: "0",
      NEW_ROOMS_PER_HOUR: "0",
      ROOM_IDLE_TTL: "2",
      MAX_FRAME_BYTES: "4194304",
      ...(redis ? { REDIS_URL: redis.url } : {}),
    };
    const { n, heldHeap } = await measuredNode(env);
    const keysBefore = inspect ? await inspect.dbsize() : 0;
    const heapBefore = await heldHeap();

    await churn(n);
    // Rooms used in the last idle time are still kept.
    if (mode === "embedded") expect(await metric(n, 'chat_rooms{where="stored"}')).toBeGreaterThan(100);
    if (inspect) expect(await inspect.dbsize()).toBeGreaterThan(keysBefore + 100);
    expect(await metric(n, 'chat_rooms{where="here"}')).toBe(0);

    // Two idle times later nothing of the rooms is left in Redis or in the node's memory (the embedded archive
    // keeps them on disk, as the system of record it is).
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

/** What one address may add to Redis, or to an embedded node's heap, in a minute of writing as fast as it is let. */
const STORAGE_BOUND = 50 * 2 ** 20;
const SOAK_MS = 60_000;
const WRITERS = 10;
/** 3000 characters of three bytes: 9000 bytes stored, within MAX_MESSAGE_BYTES. */
const HEAVY = "語".repeat(3000);

/**
 * One connection from 127.0.0.1 sending at its request rate (20 a second)
 * until `end`: a new room joined and written in, a heavy note to itself, and
 * a message of control characters (which used to be stored six bytes each).
 * A connection the node closes is opened again, while new guests are let in.
 */
async function write(n: NodeProcess, w: number, end: number, refusals: Map<string, number>): Promise<void> {
  let round = 0;
  while (Date.now() < end) {
    let u: User;
    try {
      u = await connectUser(n.url, { query: "proto=2&lobby=0" });
    } catch {
      return;
    }
    u.client.onFrame((f) => {
      if (f.action === "error") refusals.set(String(f.code), (refusals.get(String(f.code)) ?? 0) + 1);
    });
    while (Date.now() < end && !u.client.closed) {
      const room = `w${w}-${round}`;
      const old = `w${w}-${round - 10}`;
      await u.client.sendFrame(
        [
          { action: "join", room },
          { action: "message", room, message: HEAVY },
          { action: "dm", to: u.uid, message: HEAVY },
          { action: "message", room, message: "\u0001".repeat(3999) },
          { action: "leave", room: old },
        ].map((f) => JSON.stringify(f)),
      );
      round++;
      await sleep(250);
    }
    u.client.close();
  }
}

/** A user from 127.0.0.2 in the lobby, saying something every second until `end`; resolves with how many were acked. */
async function chat(n: NodeProcess, end: number): Promise<number> {
  const u = await connectUser(n.url, { query: "proto=2&lobby=0", localAddress: "127.0.0.2" });
  scope.defer(() => u.client.close());
  await joinRoom(u, "lobby");
  let acked = 0;
  while (Date.now() < end) {
    await say(u, `still here ${acked}`);
    acked++;
    await sleep(1000);
  }
  expect(u.client.all("error")).toEqual([]);
  return acked;
}

it("lets one address writing as fast as it may for a minute grow Redis and an embedded node by at most 50 MB, while another chats", async () => {
  const redis = await startRedis();
  scope.defer(() => redis.stop());
  const inspect = new Redis(redis.url);
  scope.defer(() => inspect.disconnect());
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await inspect.info("memory"))?.[1]);
  const [embedded, withRedis] = await Promise.all([measuredNode({}), scope.node({ REDIS_URL: redis.url })]);
  const redisBefore = await usedMemory();
  const heapBefore = await embedded.heldHeap();

  const end = Date.now() + SOAK_MS;
  const refusals = new Map<string, number>();
  const writers = [embedded.n, withRedis].flatMap((n) =>
    Array.from({ length: WRITERS }, (_, w) => write(n, w, end, refusals)),
  );
  const [chattedEmbedded, chattedRedis] = await Promise.all([
    chat(embedded.n, end),
    chat(withRedis, end),
    Promise.all(writers),
  ]);

  const redisGrew = (await usedMemory()) - redisBefore;
  const heapGrew = (await embedded.heldHeap()) - heapBefore;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  console.log(
    `one address for ${SOAK_MS / 1000} s: Redis grew ${mib(redisGrew)} MiB, the embedded heap ${mib(heapGrew)} MiB; ` +
      `refused ${JSON.stringify(Object.fromEntries(refusals))}`,
  );
  // The writers were refused by the limits, not by anything else.
  expect(refusals.get("over_budget")).toBeGreaterThan(0);
  expect(refusals.get("bad_text")).toBeGreaterThan(0);
  expect(redisGrew).toBeLessThan(STORAGE_BOUND);
  expect(heapGrew).toBeLessThan(STORAGE_BOUND);
  // The other address said something about every second, on both nodes.
  for (const acked of [chattedEmbedded, chattedRedis]) expect(acked).toBeGreaterThan(SOAK_MS / 1000 / 2);
}, 150_000);
