/**
 * What one join costs in Redis: the commands a node sends (by name, and the
 * commands its scripts run) and the bytes each way, for `clients` guests of
 * the original protocol joining rooms of `roomSize`, as the memory bench's
 * generator does. A counting TCP relay stands between the node and Redis;
 * MONITOR names the commands. Connecting is counted apart from joining.
 *
 *   npx tsx bench/join-commands.ts [clients=100] [roomSize=10]
 */
import net from "node:net";
import WebSocket from "ws";
import { startRedis } from "./procs.js";
import { ours } from "./targets.js";

const clients = Number(process.argv[2] ?? 100);
const roomSize = Number(process.argv[3] ?? 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes through the relay, node → Redis and Redis → node. */
const bytes = { sent: 0, replied: 0 };
/** Commands MONITOR saw, by name; a script's own under `lua:`. */
let commands = new Map<string, number>();

function relay(target: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    client.on("data", (c: Buffer) => {
      bytes.sent += c.length;
      upstream.write(c);
    });
    upstream.on("data", (c: Buffer) => {
      bytes.replied += c.length;
      client.write(c);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)),
  );
}

function monitor(port: number): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
    const lines = text.split("\r\n");
    text = lines.pop() ?? "";
    for (const line of lines) {
      const found = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!found) continue;
      const name = `${found[1] === "lua" ? "lua:" : ""}${(found[2] ?? "").toLowerCase()}`;
      commands.set(name, (commands.get(name) ?? 0) + 1);
    }
  });
  socket.write("MONITOR\r\n");
  return socket;
}

/** Opens a SockJS websocket as a guest of the original protocol; resolves on its first frame after `o`. */
function connect(port: number): Promise<{ ws: WebSocket; next: (pred: (f: string) => boolean) => Promise<void> }> {
  const server = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
  const ws = new WebSocket(
    `ws://127.0.0.1:${port}/sock/${server}/${Math.random().toString(16).slice(2)}/websocket?lobby=0`,
  );
  const waiting: { pred: (f: string) => boolean; done: () => void }[] = [];
  ws.on("message", (data: Buffer) => {
    const text = data.toString();
    if (!text.startsWith("a")) return;
    for (const frame of JSON.parse(text.slice(1)) as string[]) {
      const i = waiting.findIndex((w) => w.pred(frame));
      if (i >= 0) waiting.splice(i, 1)[0]?.done();
    }
  });
  const next = (pred: (f: string) => boolean) => new Promise<void>((done) => waiting.push({ pred, done }));
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, next }));
    ws.once("error", reject);
  });
}

function report(what: string, per: number): void {
  const rows = [...commands.entries()].sort((a, b) => b[1] - a[1]);
  const sent = rows.filter(([n]) => !n.startsWith("lua:")).reduce((s, [, c]) => s + c, 0);
  const all = rows.reduce((s, [, c]) => s + c, 0);
  console.log(`\n${what}, per client (${per} clients):`);
  console.log(`  commands sent ${(sent / per).toFixed(2)}, run with scripts' own ${(all / per).toFixed(2)}`);
  console.log(`  bytes to Redis ${(bytes.sent / per).toFixed(0)}, from Redis ${(bytes.replied / per).toFixed(0)}`);
  for (const [name, count] of rows) console.log(`  ${name.padEnd(28)} ${(count / per).toFixed(2)}`);
}

function reset(): void {
  commands = new Map();
  bytes.sent = 0;
  bytes.replied = 0;
}

const redis = await startRedis();
const relayPort = await relay(redis.port);
// As the memory bench starts ours: `npm start`'s flags, the abuse limits off.
const node = await ours().startNode(`redis://127.0.0.1:${relayPort}`, []);
const watch = monitor(redis.port);
try {
  await sleep(1000);
  reset();
  const conns = [];
  for (let i = 0; i < clients; i++) {
    const c = await connect(node.port);
    // The connection's setup (register, presence) is done once it answers a first request.
    const answered = c.next((f) => f.includes('"action":"error"'));
    c.ws.send(JSON.stringify([JSON.stringify({ action: "message", room: "nowhere", message: "x" })]));
    await answered;
    conns.push(c);
  }
  await sleep(300);
  report("connecting (and one refused request)", clients);
  reset();
  await Promise.all(
    conns.map(async (c, i) => {
      const users = c.next((f) => f.startsWith('{"action":"users"'));
      c.ws.send(JSON.stringify([JSON.stringify({ action: "join", room: `r${Math.floor(i / roomSize)}` })]));
      await users;
    }),
  );
  // Presence announcements go out a tick later.
  await sleep(1000);
  report(`joining rooms of ${roomSize}`, clients);
  for (const c of conns) c.ws.close();
} finally {
  watch.destroy();
  await node.stop();
  await redis.stop();
}
process.exit(0);
