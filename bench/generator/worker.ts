import { parentPort } from "node:worker_threads";
import WebSocket from "ws";
import { type Codec, codecs } from "./codec.js";
import type { CollectReply, ConnectReply, PublishReply, Reply, Request, Sender } from "./messages.js";

/**
 * A share of the load generator's clients, in a worker thread so that more
 * than one core can read the servers' deliveries. It measures what it
 * receives; the main thread only orchestrates.
 */

const now = () => performance.timeOrigin + performance.now();

interface Client {
  ws: WebSocket;
  /** Resolves the pending join, if any. */
  joined?: () => void;
}

let codec: Codec = codecs.sockjs;
const clients: Client[] = [];
let run = -1;
let received = 0;
let closed = 0;
let latencies: number[] = [];

function onChat(text: string): void {
  // Message text is "<run>:<seq>:<send time in ms since the epoch>".
  const first = text.indexOf(":");
  if (Number(text.slice(0, first)) !== run) return;
  received++;
  latencies.push(now() - Number(text.slice(text.lastIndexOf(":") + 1)));
}

function open(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const client: Client = { ws };
    let isOpen = false;
    const events = {
      open: () => {
        isOpen = true;
        resolve(client);
      },
      joined: () => client.joined?.(),
      chat: onChat,
    };
    ws.on("message", (data) => {
      const reply = codec.receive(String(data), events);
      if (reply !== undefined) ws.send(reply);
    });
    ws.on("error", (err) => {
      if (!isOpen) reject(err);
    });
    ws.on("close", () => {
      if (isOpen) closed++;
      else reject(new Error("closed before it opened"));
    });
  });
}

async function connect(req: Extract<Request, { t: "connect" }>): Promise<ConnectReply> {
  codec = codecs[req.wire];
  let failed = 0;
  for (let start = 0; start < req.count; start += req.batch) {
    const batch: Promise<Client | undefined>[] = [];
    for (let i = start; i < Math.min(req.count, start + req.batch); i++) {
      // Round-robin over the nodes by the client's global index.
      const port = req.ports[(req.first + i) % req.ports.length];
      batch.push(open(`ws://127.0.0.1:${port}${codec.path()}`).catch(() => undefined));
    }
    for (const client of await Promise.all(batch)) {
      if (client) clients.push(client);
      else failed++;
    }
  }
  return { opened: clients.length, failed };
}

function joinOne(client: Client, room: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`join ${room} not answered in 30 s`)), 30_000);
    client.joined = () => {
      clearTimeout(timer);
      client.joined = undefined;
      resolve();
    };
    client.ws.send(codec.join(room));
  });
}

async function join(req: Extract<Request, { t: "join" }>): Promise<void> {
  for (let start = 0; start < clients.length; start += req.batch) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(clients.length, start + req.batch); i++) {
      batch.push(joinOne(clients[i] as Client, req.rooms[i] as string));
    }
    await Promise.all(batch);
  }
}

/** Sends at a fixed rate: each tick catches up with the schedule, so timer jitter does not lower the rate. */
function publish(req: Extract<Request, { t: "publish" }>): Promise<PublishReply> {
  const total = Math.round(req.perSecond * req.seconds);
  const sent: Record<string, number> = {};
  let seq = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    if (total === 0 || req.senders.length === 0) return resolve({ sent });
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((req.perSecond * (performance.now() - started)) / 1000));
      for (; seq < due; seq++) {
        const sender = req.senders[seq % req.senders.length] as Sender;
        const client = clients[sender.client] as Client;
        client.ws.send(codec.message(sender.room, `${req.run}:${seq}:${now().toFixed(3)}`));
        sent[sender.room] = (sent[sender.room] ?? 0) + 1;
      }
      if (seq >= total) {
        clearInterval(timer);
        resolve({ sent });
      }
    }, 2);
  });
}

function collect(): CollectReply {
  const reply = { received, latencies: Float64Array.from(latencies), closed };
  latencies = [];
  return reply;
}

async function handle(req: Request): Promise<unknown> {
  switch (req.t) {
    case "connect":
      return connect(req);
    case "join":
      return join(req);
    case "begin":
      run = req.run;
      received = 0;
      latencies = [];
      return undefined;
    case "publish":
      return publish(req);
    case "count":
      return received;
    case "collect":
      return collect();
    case "close":
      for (const c of clients) c.ws.terminate();
      clients.length = 0;
      return undefined;
  }
}

parentPort?.on("message", (msg: { id: number; req: Request }) => {
  handle(msg.req).then(
    (value) => {
      // Latencies can run to millions of samples: hand their buffer over rather than copy it.
      const transfer = msg.req.t === "collect" ? [(value as CollectReply).latencies.buffer as ArrayBuffer] : [];
      parentPort?.postMessage({ id: msg.id, ok: true, value } satisfies Reply, transfer);
    },
    (err: unknown) => parentPort?.postMessage({ id: msg.id, ok: false, error: String(err) } satisfies Reply),
  );
});
