/**
 * What a stored message costs Redis itself, counted in instructions rather
 * than seconds: redis-server runs under valgrind's callgrind, which counts
 * the same on a quiet machine and on a busy one, so two builds compare
 * exactly. One node (`npm start`'s flags, `--server` for another build) with
 * Redis and PostgreSQL behind it, as the archive's ingest runs it; one
 * client in each of `rooms` rooms sends, each waiting for its ack, until
 * every room's window and log are full; then the count starts, and they send
 * `messages` more. Everything Redis does meanwhile is counted: the store
 * script, the publication, the carry into the database, presence.
 *
 *   npx tsx bench/store-script.ts [--messages 5000] [--rooms 50] [--server <build>/dist/server.js]
 *
 * Needs valgrind (Debian's `valgrind`); about a minute here.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { startPostgres } from "./postgres.js";
import { freePort, launch, stopChild, waitReady } from "./procs.js";
import { ours } from "./targets.js";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "5000" },
    rooms: { type: "string", default: "50" },
    server: { type: "string" },
  },
});
const messages = Number(values.messages);
const rooms = Number(values.rooms);
/** HISTORY_SIZE's default: the window and the log a room keeps. */
const WINDOW = 100;

/** A proto=2 guest over a raw SockJS websocket: sends a request, resolves with the frame answering its ref. */
async function client(port: number) {
  const ws = new WebSocket(
    `ws://127.0.0.1:${port}/sock/000/${Math.random().toString(16).slice(2)}/websocket?proto=2&lobby=0`,
  );
  const waiting = new Map<string, () => void>();
  ws.on("message", (data: Buffer) => {
    const text = data.toString();
    if (!text.startsWith("a")) return;
    for (const frame of JSON.parse(text.slice(1)) as string[]) {
      const ref = (JSON.parse(frame) as { ref?: string; action: string }).ref;
      if (ref !== undefined) waiting.get(ref)?.();
    }
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let n = 0;
  return {
    ask: (request: Record<string, unknown>) =>
      new Promise<void>((resolve) => {
        const ref = `r${n++}`;
        waiting.set(ref, () => {
          waiting.delete(ref);
          resolve();
        });
        ws.send(JSON.stringify([JSON.stringify({ ...request, ref })]));
      }),
    close: () => ws.close(),
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "bench-store-script-"));
const out = path.join(dir, "callgrind.out");
const redisPort = await freePort();
const redis = launch(
  "valgrind",
  [
    "--tool=callgrind",
    "--instr-atstart=no",
    `--callgrind-out-file=${out}`,
    "redis-server",
    ...["--port", String(redisPort), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
  ],
  {},
);
const count = (on: boolean) =>
  execFileSync("callgrind_control", ["-i", on ? "on" : "off", String(redis.child.pid)], { stdio: "ignore" });
const pgsql = await startPostgres();
try {
  await waitReady(
    redis.child,
    redis.output,
    async () => /Ready to accept connections/.test(redis.output()),
    "redis-server under valgrind",
  );
  const target = ours(values.server, true, () => pgsql.createDatabase("store_script"));
  const node = await target.startNode(`redis://127.0.0.1:${redisPort}`, []);
  try {
    const members = await Promise.all(Array.from({ length: rooms }, () => client(node.port)));
    await Promise.all(members.map((m, i) => m.ask({ action: "join", room: `a${i}` })));
    let sent = 0;
    const say = (upTo: number) =>
      Promise.all(
        members.map(async (m, i) => {
          while (sent < upTo) {
            sent++;
            await m.ask({
              action: "message",
              room: `a${i}`,
              message: `a message of about the length people write, ${sent}`,
            });
          }
        }),
      );
    await say(rooms * (WINDOW + 10));
    count(true);
    const from = sent;
    await say(from + messages);
    count(false);
    for (const m of members) m.close();
    await node.stop();
    await stopChild(redis.child, 60_000);
    const totals = /^totals:\s+(\d+)/m.exec(readFileSync(out, "utf8"));
    if (!totals?.[1]) throw new Error(`no callgrind totals in ${out}:\n${redis.output()}`);
    console.log(
      `${sent - from} messages stored into ${rooms} rooms, their windows full: ` +
        `${Math.round(Number(totals[1]) / (sent - from)).toLocaleString("en")} instructions of redis-server a message`,
    );
  } finally {
    await node.stop();
  }
} finally {
  await stopChild(redis.child, 60_000);
  await pgsql.stop();
  rmSync(dir, { recursive: true, force: true });
}
