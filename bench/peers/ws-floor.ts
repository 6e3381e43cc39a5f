/**
 * The floor: the least a server can do for the benchmark's clients. A bare
 * `ws` server that speaks SockJS's websocket framing (`o`, `a[...]`), keeps
 * what a connection is sent during a tick and writes it as one frame, and
 * fans rooms out over Redis Pub/Sub (a channel per room) so that two nodes
 * make one chat. No chat logic: no history, presence, validation or limits.
 * Its message frames carry the same fields as ours (a per-node count stands
 * in for the mid), so that the wire and the clients' parsing cost the same.
 * Configured like ours: PORT, HOST, REDIS_URL.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { Redis } from "ioredis";
import { type WebSocket, WebSocketServer } from "ws";

interface Client {
  ws: WebSocket;
  id: string;
  name: string;
  rooms: Set<string>;
  /** SockJS-quoted messages waiting for the end of the tick. */
  pending: string[] | undefined;
}

const pub = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const sub = pub.duplicate();
const rooms = new Map<string, Set<Client>>();
const channel = (room: string) => `floor:${room}`;
let published = 0;

let due: Client[] = [];
function flush(): void {
  const clients = due;
  due = [];
  for (const c of clients) {
    const quoted = c.pending ?? [];
    c.pending = undefined;
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(`a[${quoted.join(",")}]`);
  }
}

function deliver(client: Client, quoted: string): void {
  if (client.pending) {
    client.pending.push(quoted);
    return;
  }
  client.pending = [quoted];
  if (due.push(client) === 1) setImmediate(flush);
}

sub.on("message", (ch: string, payload: string) => {
  const members = rooms.get(ch.slice("floor:".length));
  if (!members) return;
  const quoted = JSON.stringify(payload);
  for (const member of members) deliver(member, quoted);
});

function join(client: Client, room: string): void {
  let members = rooms.get(room);
  if (!members) {
    members = new Set();
    rooms.set(room, members);
    void sub.subscribe(channel(room));
  }
  members.add(client);
  client.rooms.add(room);
  deliver(client, JSON.stringify(JSON.stringify({ action: "users", room, users: [] })));
}

function leave(client: Client): void {
  for (const room of client.rooms) {
    const members = rooms.get(room);
    members?.delete(client);
    if (members?.size === 0) {
      rooms.delete(room);
      void sub.unsubscribe(channel(room));
    }
  }
}

function onMessage(client: Client, data: string): void {
  for (const text of JSON.parse(data) as string[]) {
    const req = JSON.parse(text) as { action?: string; room?: string; message?: string };
    if (req.action === "join" && typeof req.room === "string") join(client, req.room);
    else if (req.action === "message" && typeof req.room === "string" && client.rooms.has(req.room)) {
      const frame = {
        action: "message",
        mid: ++published,
        room: req.room,
        message: req.message,
        id: client.id,
        name: client.name,
        ts: Date.now(),
      };
      void pub.publish(channel(req.room), JSON.stringify(frame));
    }
  }
}

// The bench reads these as it reads our nodes' (prom-client's names): the event loop's delay
// since the last read, which resets it, and the time spent collecting garbage.
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let gcSeconds = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcSeconds += entry.duration / 1000;
}).observe({ entryTypes: ["gc"] });
function metrics(): string {
  const lines = [
    `nodejs_eventloop_lag_p50_seconds ${loop.percentile(50) / 1e9}`,
    `nodejs_eventloop_lag_p99_seconds ${loop.percentile(99) / 1e9}`,
    `nodejs_eventloop_lag_max_seconds ${loop.max / 1e9}`,
    `nodejs_gc_duration_seconds_sum ${gcSeconds}`,
  ];
  loop.reset();
  return `${lines.join("\n")}\n`;
}

const http = createServer((req, res) => {
  if (req.url === "/metrics") {
    res.writeHead(200).end(metrics());
    return;
  }
  const ready = req.url === "/readyz" && pub.status === "ready" && sub.status === "ready";
  res.writeHead(ready ? 200 : 503).end();
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
http.on("upgrade", (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const id = randomBytes(9).toString("base64url");
    const client: Client = { ws, id, name: `User #${100 + (published % 900)}`, rooms: new Set(), pending: undefined };
    ws.send("o");
    ws.on("message", (data) => onMessage(client, String(data)));
    ws.on("close", () => leave(client));
    ws.on("error", () => undefined);
  });
});

http.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");
const stop = () => {
  http.closeAllConnections();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
