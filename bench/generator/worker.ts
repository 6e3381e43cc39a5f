import { monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { parentPort } from "node:worker_threads";
import WebSocket from "ws";
import { type Codec, codecs, type FrameCounts, type FrameKind } from "./codec.js";
import type {
  CollectReply,
  ConnectReply,
  Dial,
  FramesReply,
  Ledger,
  PublishReply,
  Reply,
  Request,
  Sender,
} from "./messages.js";

/**
 * A share of the load generator's clients, in a worker thread so that more
 * than one core can read the servers' deliveries. It measures what it
 * receives; the main thread only orchestrates.
 */

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Client {
  ws: WebSocket;
  /** The node it connects to, again after the server closed it. */
  port: number;
  /** The loopback address it connects from, if the dial spreads them. */
  from?: string;
  /** The token the server gave it (`?proto=2`): connecting again with it, it is the same user. */
  guest?: string;
  /** Frames received since the last `begin`, by kind. */
  frames: FrameCounts;
  /** The room size the last `presence` frame said; -1 before the first. */
  told: number;
  /** Resolves the pending join, if any. */
  joined?: () => void;
  /** Takes another name and joins again, while a join is pending. */
  renamed?: () => void;
  /** The epoch of its room's history, from the last join's answer: a rejoin with `since` names it. */
  epoch?: string;
  ledger: Ledger;
}

let codec: Codec = codecs.sockjs;
/** The nodes' ports, in the order the bench gave them: a client that fails over dials the next one. */
let nodePorts: number[] = [];
let dialing: Dial = { query: "lobby=0", admitted: false, reconnect: false };
const clients: Client[] = [];
let run = -1;
let received = 0;
let closed = 0;
let latencies: number[] = [];
/** Each latency's message, by its sequence number in the run. */
let seqs: number[] = [];
/** By message: from its send to when the publishing node took it up (its `ts`), ms. */
let taken: number[] = [];
/** By message: from its send to its acknowledgement's arrival at the publisher, ms. */
let acked: number[] = [];
/** Sends of this worker's messages, by sequence number, for their acknowledgements. */
let sentAt: number[] = [];
/** How late this thread's event loop ran during the run: receipts wait that long to be read. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
/** This thread's collector during the run: its pauses hold every receipt it has not read yet. */
let gcMs = 0;
let gcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    gcMaxMs = Math.max(gcMaxMs, e.duration);
  }
}).observe({ entryTypes: ["gc"] });
let loopUse = performance.eventLoopUtilization();
let lastPresenceAt = 0;
let down = 0;
let lastReconnectAt = 0;

const noFrames = (): FrameCounts => ({ user_join: 0, user_left: 0, presence: 0, other: 0 });
const noLedger = (): Ledger => ({
  lastMid: 0,
  duplicates: 0,
  gaps: 0,
  unrecovered: 0,
  cut: 0,
  connectedAt: 0,
  backAt: 0,
});

/** One more message of the client's room, live or recovered: it is the next `mid`, or it is a duplicate, or some were skipped. */
function take(ledger: Ledger, mid: number): void {
  if (mid <= ledger.lastMid) ledger.duplicates++;
  else {
    ledger.gaps += mid - ledger.lastMid - 1;
    ledger.lastMid = mid;
  }
}

function onChat(client: Client, text: string, ts: number | undefined, room?: string, mid?: number): void {
  if (mid !== undefined && room === client.ledger.room) take(client.ledger, mid);
  // Message text is "<run>:<seq>:<send time in ms since the epoch>".
  const first = text.indexOf(":");
  if (Number(text.slice(0, first)) !== run) return;
  received++;
  const last = text.lastIndexOf(":");
  const seq = Number(text.slice(first + 1, last));
  const sent = Number(text.slice(last + 1));
  // Latency is that of the clients never cut: one that came back waited for the storm, not for the delivery.
  if (client.ledger.cut === 0) {
    latencies.push(now() - sent);
    seqs.push(seq);
  }
  // The server's `ts` is Date.now() there: read on the same clock, it is ms-coarse.
  if (ts !== undefined && taken[seq] === undefined) taken[seq] = ts + clockSkew() - sent;
}

/** What to add to a Date.now() to read it on `now()`'s clock (they drift apart over a process's life). */
const clockSkew = () => now() - Date.now();

/**
 * Refs a run may give its messages: each run numbers its own from `run * RUN_REFS`. A ref the server
 * has seen from a user is a retry, acknowledged and not sent again, so a later run on the same
 * clients must not reuse the numbers of an earlier one.
 */
const RUN_REFS = 1e9;

function onAck(ref: number): void {
  if (Math.floor(ref / RUN_REFS) !== run) return;
  const seq = ref % RUN_REFS;
  const sent = sentAt[seq];
  if (sent !== undefined) acked[seq] = now() - sent;
}

function onHistory(client: Client, room: string, epoch: string, top: number, mids: number[], recovered?: boolean) {
  const ledger = client.ledger;
  if (room !== ledger.room) return;
  // A first join starts the count at the room's newest message; a rejoin's answer must continue it.
  if (client.epoch === undefined) ledger.lastMid = top;
  else {
    if (recovered !== true) ledger.unrecovered++;
    for (const mid of mids) take(ledger, mid);
  }
  client.epoch = epoch;
}

/** A new connection to a node, as the user with that guest token if there is one. */
function socketTo(port: number, guest: string | undefined, from?: string): WebSocket {
  const query = new URLSearchParams(dialing.query);
  if (guest !== undefined) query.set("guest", guest);
  const url = `ws://127.0.0.1:${port}${codec.path(query.toString())}`;
  // A node out of file descriptors leaves a dial unanswered: it fails after a while rather than hangs.
  return new WebSocket(url, {
    perMessageDeflate: false,
    handshakeTimeout: 60_000,
    ...(from ? { localAddress: from } : {}),
  });
}

/** The source address of the client with this global index, when the dial spreads them. */
function sourceOf(index: number): string | undefined {
  const n = dialing.sourceAddresses ?? 0;
  return n > 0 ? `127.0.0.${2 + (index % n)}` : undefined;
}

/**
 * Follows the client's websocket; resolves once it is connected (the
 * transport open, or the probe answered when `dialing.admitted`).
 */
function attach(client: Client): Promise<void> {
  const ws = client.ws;
  return new Promise((resolve, reject) => {
    let connected = false;
    const ready = () => {
      connected = true;
      resolve();
    };
    const events = {
      open: () => {
        if (!dialing.admitted) return ready();
        if (codec.probe === undefined) return reject(new Error("this wire has no probe to learn admission by"));
        ws.send(codec.probe);
      },
      answered: () => {
        if (dialing.admitted && !connected) ready();
      },
      joined: () => client.joined?.(),
      nameTaken: () => client.renamed?.(),
      chat: (text: string, ts: number | undefined, room?: string, mid?: number) => onChat(client, text, ts, room, mid),
      acked: onAck,
      history: (room: string, epoch: string, top: number, mids: number[], recovered?: boolean) =>
        onHistory(client, room, epoch, top, mids, recovered),
      frame: (kind: FrameKind) => {
        client.frames[kind]++;
        if (kind !== "other") lastPresenceAt = now();
      },
      count: (members: number) => {
        client.told = members;
      },
      identified: (guest: string | undefined) => {
        if (guest !== undefined) client.guest = guest;
      },
    };
    ws.on("message", (data) => {
      const reply = codec.receive(String(data), events);
      if (reply !== undefined) ws.send(reply);
    });
    ws.on("error", (err) => {
      if (!connected) reject(err);
    });
    ws.on("close", (code) => {
      if (!connected) return reject(new Error("closed before it was connected"));
      closed++;
      client.ledger.cut++;
      client.ledger.closedWith = code;
      if (dialing.reconnect) void comeBack(client);
    });
  });
}

/**
 * The web client's backoff (web/src/backoff.ts, which the bench may not
 * import): from 0.5 s, doubling to 30 s, drawn from the upper half so that a
 * crowd spreads out. A link that had lasted STABLE_MS (10 s) starts again
 * from 0.5 s, as every client of a node that ran that long does.
 */
function backoff(failures: number): number {
  const ceiling = Math.min(30_000, 500 * 2 ** failures);
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/** The server closed the client: it connects again, as a person's page would, until it is back. */
async function comeBack(client: Client): Promise<void> {
  down++;
  for (let failures = 0; ; failures++) {
    await sleep(backoff(failures));
    // The bench closed every client meanwhile: nobody is coming back.
    if (!dialing.reconnect) break;
    if (dialing.failover) client.port = nodePorts[(nodePorts.indexOf(client.port) + 1) % nodePorts.length] as number;
    try {
      client.ws = socketTo(client.port, client.guest, client.from);
      await attach(client);
    } catch {
      // The node is still down or not ready yet: try again later.
      continue;
    }
    client.ledger.connectedAt = now();
    const { room } = client.ledger;
    if (dialing.failover && room !== undefined) {
      const resume = { since: client.ledger.lastMid, epoch: client.epoch ?? "" };
      await joinOne(client, room, resume).catch(() => client.ledger.unrecovered++);
    }
    lastReconnectAt = now();
    client.ledger.backAt = lastReconnectAt;
    break;
  }
  down--;
}

/** A new client of global index `index`, dialed now; resolves with it once connected, or undefined. */
function dial(req: Extract<Request, { t: "connect" }>, i: number): Promise<Client | undefined> {
  // Round-robin over the nodes by the client's global index.
  const port = req.ports[(req.first + i) % req.ports.length] as number;
  const from = sourceOf(req.first + i);
  const client: Client = {
    ws: socketTo(port, undefined, from),
    port,
    from,
    frames: noFrames(),
    told: -1,
    ledger: noLedger(),
  };
  return attach(client).then(
    () => client,
    () => undefined,
  );
}

/** Dials at a steady rate, as a crowd arrives, however long each connection takes; resolves once all are settled. */
function connectPaced(req: Extract<Request, { t: "connect" }>, perSecond: number): Promise<ConnectReply> {
  const started = performance.now();
  const dialed: Promise<Client | undefined>[] = [];
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(req.count, Math.floor((perSecond * (performance.now() - started)) / 1000) + 1);
      while (dialed.length < due) dialed.push(dial(req, dialed.length));
      if (dialed.length < req.count) return;
      clearInterval(timer);
      void Promise.all(dialed).then((all) => {
        let failed = 0;
        for (const client of all) {
          if (client) clients.push(client);
          else failed++;
        }
        resolve({ opened: clients.length, failed });
      });
    }, 2);
  });
}

async function connect(req: Extract<Request, { t: "connect" }>): Promise<ConnectReply> {
  codec = codecs[req.wire];
  dialing = req.dial;
  nodePorts = req.ports;
  if (req.perSecond !== undefined) return connectPaced(req, req.perSecond);
  let failed = 0;
  for (let start = 0; start < req.count; start += req.batch) {
    const batch: Promise<Client | undefined>[] = [];
    for (let i = start; i < Math.min(req.count, start + req.batch); i++) batch.push(dial(req, i));
    for (const client of await Promise.all(batch)) {
      if (client) clients.push(client);
      else failed++;
    }
  }
  return { opened: clients.length, failed };
}

function joinOne(client: Client, room: string, resume?: { since: number; epoch: string }): Promise<void> {
  client.ledger.room = room;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`join ${room} not answered in 30 s`)), 30_000);
    client.joined = () => {
      clearTimeout(timer);
      client.joined = undefined;
      client.renamed = undefined;
      resolve();
    };
    // Guests' drawn names clash in a room of 1,000 about every other run; a person would pick another name.
    client.renamed = () => {
      if (codec.nick === undefined) return;
      client.ws.send(codec.nick(`b-${Math.random().toString(36).slice(2, 12)}`));
      client.ws.send(codec.join(room, resume));
    };
    client.ws.send(codec.join(room, resume));
  });
}

async function join(req: Extract<Request, { t: "join" }>): Promise<void> {
  for (let start = 0; start < clients.length; start += req.batch) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(clients.length, start + req.batch); i++) {
      const room = req.rooms[i];
      if (room !== undefined) batch.push(joinOne(clients[i] as Client, room));
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
        // A publisher the server closed sends nothing until it is back: what it would have sent is not counted.
        if (client.ws.readyState !== WebSocket.OPEN) continue;
        const at = now();
        sentAt[seq] = at;
        client.ws.send(codec.message(sender.room, `${req.run}:${seq}:${at.toFixed(3)}`, req.run * RUN_REFS + seq));
        sent[sender.room] = (sent[sender.room] ?? 0) + 1;
      }
      if (seq >= total) {
        clearInterval(timer);
        resolve({ sent });
      }
    }, 2);
  });
}

/** Per message of the run, NaN where this worker has none. */
const bySeq = (values: number[]) => Float64Array.from(values, (v) => v ?? Number.NaN);

function collect(): CollectReply {
  const reply: CollectReply = {
    received,
    latencies: Float64Array.from(latencies),
    seqs: Uint32Array.from(seqs),
    taken: bySeq(taken),
    acked: bySeq(acked),
    threads: [
      {
        clients: clients.length,
        // The histogram times the gap between its 1 ms timer's runs: less that, the delay.
        loopDelayMs: {
          p50: loopDelay.percentile(50) / 1e6 - 1,
          p99: loopDelay.percentile(99) / 1e6 - 1,
          max: loopDelay.max / 1e6 - 1,
        },
        gcMs,
        gcMaxMs,
        heapMiB: getHeapStatistics().used_heap_size / 2 ** 20,
        busy: performance.eventLoopUtilization(loopUse).utilization,
      },
    ],
    closed,
  };
  latencies = [];
  seqs = [];
  return reply;
}

function frames(): FramesReply {
  return {
    counts: clients.map((c) => c.frames),
    told: clients.map((c) => c.told),
    lastPresenceAt,
    down,
    lastReconnectAt,
    closed,
  };
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
      seqs = [];
      taken = [];
      acked = [];
      sentAt = [];
      loopDelay.reset();
      gcMs = 0;
      gcMaxMs = 0;
      loopUse = performance.eventLoopUtilization();
      for (const c of clients) c.frames = noFrames();
      return undefined;
    case "publish":
      return publish(req);
    case "count":
      return received;
    case "collect":
      return collect();
    case "frames":
      return frames();
    case "ledger":
      return clients.map((c) => c.ledger);
    case "close":
      dialing = { ...dialing, reconnect: false };
      for (const c of clients) c.ws.terminate();
      clients.length = 0;
      return undefined;
  }
}

parentPort?.on("message", (msg: { id: number; req: Request }) => {
  handle(msg.req).then(
    (value) => {
      // Latencies can run to millions of samples: hand their buffer over rather than copy it.
      const c = value as CollectReply;
      const transfer =
        msg.req.t === "collect" ? [c.latencies, c.seqs, c.taken, c.acked].map((a) => a.buffer as ArrayBuffer) : [];
      parentPort?.postMessage({ id: msg.id, ok: true, value } satisfies Reply, transfer);
    },
    (err: unknown) => parentPort?.postMessage({ id: msg.id, ok: false, error: String(err) } satisfies Reply),
  );
});
