import type { WireKind } from "./codec.js";

/** What the main thread asks of a generator worker; every request gets one reply with the same id. */
export type Request =
  | { t: "connect"; wire: WireKind; ports: number[]; first: number; count: number; batch: number }
  | { t: "join"; rooms: string[]; batch: number }
  | { t: "begin"; run: number }
  | { t: "publish"; run: number; perSecond: number; seconds: number; senders: Sender[] }
  | { t: "count" }
  | { t: "collect" }
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
  /** Connections that closed since they opened: a server dropping clients shows here. */
  closed: number;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
