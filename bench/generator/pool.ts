import { Worker } from "node:worker_threads";
import type { WireKind } from "./codec.js";
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

/** tsx's loader hooks do not reach worker threads by themselves: each worker registers them, then loads its code. */
const BOOT = `
import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))})
  .then(({ register }) => { register(); return import(${JSON.stringify(new URL("./worker.ts", import.meta.url).href)}); });
`;

class Channel {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly worker: Worker) {
    worker.on("message", (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.value);
      else waiter?.reject(new Error(reply.error));
    });
    worker.on("error", (err) => {
      for (const w of this.pending.values()) w.reject(err);
      this.pending.clear();
    });
  }

  call<T>(req: Request): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, req });
    });
  }
}

/** A global client index's place: which worker holds it, and its index there. */
interface Slot {
  worker: number;
  local: number;
}

/**
 * The load generator's clients, spread in contiguous blocks over worker
 * threads. Client i connects to node i mod N.
 */
export class Generator {
  private readonly channels: Channel[];
  private blocks: { first: number; count: number }[] = [];

  constructor(workers: number) {
    this.channels = Array.from({ length: workers }, () => new Channel(new Worker(BOOT, { eval: true })));
  }

  private all<T>(req: (w: number) => Request): Promise<T[]> {
    return Promise.all(this.channels.map((c, w) => c.call<T>(req(w))));
  }

  private slot(index: number): Slot {
    const worker = this.blocks.findIndex((b) => index >= b.first && index < b.first + b.count);
    return { worker, local: index - (this.blocks[worker]?.first ?? 0) };
  }

  /**
   * Connects `clients` clients, each worker `batch` at a time, waiting for each batch: a steady pace
   * the servers set; or, with `perSecond`, at that steady rate in all, whatever the servers' pace.
   * By default they skip the lobby and count as connected once the transport is open.
   */
  async connect(
    wire: WireKind,
    ports: number[],
    clients: number,
    dial: Dial = { query: "lobby=0", admitted: false, reconnect: false },
    batch = 100,
    perSecond?: number,
  ): Promise<ConnectReply> {
    const share = Math.ceil(clients / this.channels.length);
    this.blocks = this.channels.map((_, w) => ({
      first: w * share,
      count: Math.max(0, Math.min(share, clients - w * share)),
    }));
    const replies = await this.all<ConnectReply>((w) => ({
      t: "connect",
      wire,
      ports,
      ...this.blocks[w]!,
      batch,
      dial,
      ...(perSecond === undefined ? {} : { perSecond: perSecond / this.channels.length }),
    }));
    return {
      opened: replies.reduce((n, r) => n + r.opened, 0),
      failed: replies.reduce((n, r) => n + r.failed, 0),
    };
  }

  /** `roomOf(i)` is client i's room (undefined: it joins none); each worker joins a batch at a time and waits for the answers. */
  async join(roomOf: (index: number) => string | undefined, batch = 50): Promise<void> {
    await this.all<void>((w) => {
      const { first, count } = this.blocks[w]!;
      return { t: "join", rooms: Array.from({ length: count }, (_, i) => roomOf(first + i)), batch };
    });
  }

  async begin(run: number): Promise<void> {
    await this.all<void>(() => ({ t: "begin", run }));
  }

  /** Publishes `perSecond` messages in total, shared over the senders (global client indices) by worker. */
  async publish(run: number, perSecond: number, seconds: number, senders: { client: number; room: string }[]) {
    const byWorker: Sender[][] = this.channels.map(() => []);
    for (const s of senders) {
      const { worker, local } = this.slot(s.client);
      byWorker[worker]?.push({ client: local, room: s.room });
    }
    const replies = await this.all<PublishReply>((w) => {
      const mine = byWorker[w] ?? [];
      return { t: "publish", run, perSecond: (perSecond * mine.length) / senders.length, seconds, senders: mine };
    });
    const sent: Record<string, number> = {};
    for (const r of replies) for (const [room, n] of Object.entries(r.sent)) sent[room] = (sent[room] ?? 0) + n;
    return sent;
  }

  async received(): Promise<number> {
    return (await this.all<number>(() => ({ t: "count" }))).reduce((a, b) => a + b, 0);
  }

  async collect(): Promise<CollectReply> {
    const replies = await this.all<CollectReply>(() => ({ t: "collect" }));
    return {
      received: replies.reduce((n, r) => n + r.received, 0),
      closed: replies.reduce((n, r) => n + r.closed, 0),
      latencies: concat(replies.map((r) => r.latencies)),
      seqs: Uint32Array.from(concat(replies.map((r) => r.seqs))),
      taken: known(replies.map((r) => r.taken)),
      acked: known(replies.map((r) => r.acked)),
      threads: replies.flatMap((r) => r.threads),
    };
  }

  /** Frames received since `begin`, per client in global index order, and how the clients fare. */
  async frames(): Promise<FramesReply> {
    const replies = await this.all<FramesReply>(() => ({ t: "frames" }));
    return {
      counts: replies.flatMap((r) => r.counts),
      told: replies.flatMap((r) => r.told),
      lastPresenceAt: Math.max(...replies.map((r) => r.lastPresenceAt)),
      down: replies.reduce((n, r) => n + r.down, 0),
      lastReconnectAt: Math.max(...replies.map((r) => r.lastReconnectAt)),
      closed: replies.reduce((n, r) => n + r.closed, 0),
    };
  }

  /** What each client made of its room's messages, in global index order. */
  async ledgers(): Promise<Ledger[]> {
    return (await this.all<Ledger[]>(() => ({ t: "ledger" }))).flat();
  }

  async disconnect(): Promise<void> {
    await this.all<void>(() => ({ t: "close" }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.worker.terminate()));
  }
}

function concat(parts: ArrayLike<number>[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

/** Per-message values the workers know some of each: the one that is known (not NaN). */
function known(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(Math.max(0, ...parts.map((p) => p.length))).fill(Number.NaN);
  for (const p of parts)
    p.forEach((v, i) => {
      if (!Number.isNaN(v)) all[i] = v;
    });
  return all;
}
