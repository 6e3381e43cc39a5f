import type { FrameCounts, WireKind } from "./codec.js";

/** How clients connect. */
export interface Dial {
  /** The query each connection's URL carries (URL-encoded, may be empty), e.g. "lobby=0" or "proto=2". */
  query: string;
  /** A client counts as connected once the server answers the codec's probe (its setup done), not at open. */
  admitted: boolean;
  /** A client the server closes connects again, with the web client's backoff (and its guest token, if given one). */
  reconnect: boolean;
  /**
   * Coming back, a client dials the next node in the list rather than its
   * own, as a load balancer that saw its node die would send it; and it
   * rejoins its room with `since` and `epoch`, as the web client does, and
   * counts as back once that join is answered.
   */
  failover?: boolean;
  /**
   * Spread the connections over this many loopback source addresses
   * (127.0.0.2, 127.0.0.3, …), so that one address's ephemeral ports do not
   * run out; unset or 0: the system's choice (127.0.0.1).
   */
  sourceAddresses?: number;
}

/** What the main thread asks of a generator worker; every request gets one reply with the same id. */
export type Request =
  | {
      t: "connect";
      wire: WireKind;
      ports: number[];
      first: number;
      count: number;
      batch: number;
      dial: Dial;
      /** Dial at this steady rate (connections per second) instead of a batch at a time. */
      perSecond?: number;
    }
  /** Each client joins its room; one with none (undefined) is left as it is. */
  | { t: "join"; rooms: (string | undefined)[]; batch: number }
  | { t: "begin"; run: number }
  | { t: "publish"; run: number; perSecond: number; seconds: number; senders: Sender[] }
  | { t: "count" }
  | { t: "collect" }
  | { t: "frames" }
  | { t: "ledger" }
  | { t: "close" };

export interface Sender {
  /** Index among this worker's clients. */
  client: number;
  room: string;
}

export interface ConnectReply {
  opened: number;
  failed: number;
}

export interface PublishReply {
  /** Messages sent, by room. */
  sent: Record<string, number>;
}

export interface CollectReply {
  received: number;
  /** Delivery latencies in ms, one per received message of the current run. */
  latencies: Float64Array;
  /** The message of each latency: its sequence number in the run. */
  seqs: Uint32Array;
  /** By sequence number: send to the publishing node's `ts`, ms; NaN where unknown (no `ts`, none received). */
  taken: Float64Array;
  /** By sequence number: send to the acknowledgement's arrival at the publisher, ms; NaN without one. */
  acked: Float64Array;
  /** How each generator thread fared during the run: a receipt waits for the thread that reads it. */
  threads: ThreadLoad[];
  /** Connections that closed since they opened: a server dropping clients shows here. */
  closed: number;
}

/** One generator thread over a run: what its own loop and collector added to the latencies it timed. */
export interface ThreadLoad {
  clients: number;
  /** How late its event loop ran, ms. */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** Its garbage collection: total and longest pause, ms, and its heap in use at the end, MiB. */
  gcMs: number;
  gcMaxMs: number;
  heapMiB: number;
  /** The share of the run its event loop was busy (0–1). */
  busy: number;
}

export interface FramesReply {
  /** Frames each client received since the last `begin` (or since it connected), in client order. */
  counts: FrameCounts[];
  /** The room size each client was last told by a `presence` frame, ever; -1 if it never was. */
  told: number[];
  /** When the last user_join, user_left or presence frame arrived, ms since the epoch; 0 if none did. */
  lastPresenceAt: number;
  /** Clients the server closed that are not connected again yet. */
  down: number;
  /** When the last client that came back was connected again, ms since the epoch; 0 if none has. */
  lastReconnectAt: number;
  /** Connections that closed since they opened. */
  closed: number;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** What one client made of its room's messages since it joined, by `mid`. */
export interface Ledger {
  /** Its room; undefined before it joined one. */
  room?: string;
  /** The newest `mid` it has, live or recovered. */
  lastMid: number;
  /** Messages it received again, with a `mid` it already had. */
  duplicates: number;
  /** `mid`s it skipped: messages it never received. */
  gaps: number;
  /** Rejoins whose `history` said `recovered: false` (something missing before it). */
  unrecovered: number;
  /** Times the server closed it, and the close code it last gave (4003: a slow consumer). */
  cut: number;
  closedWith?: number;
  /** When it was last connected again (its setup done, with `admitted`), ms since the epoch; 0 if never cut. */
  connectedAt: number;
  /** When it was last back (reconnected and, with `failover`, rejoined), ms since the epoch; 0 if never cut. */
  backAt: number;
}
