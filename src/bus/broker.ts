import { isTransient } from "../redis/transient-errors.js";
import type { Envelope, NodeMessage } from "./envelope.js";

/**
 * The seam between a chat node and the other nodes, after centrifuge's Broker:
 * room pub/sub, the per-room history that publication appends to, and direct
 * messages to one node. The in-memory broker serves a lone process; the Redis
 * broker lets many processes share rooms.
 */

/** The other nodes are out of reach right now; the operation did not happen. */
export class BrokerUnavailable extends Error {
  constructor() {
    super("the other nodes are out of reach");
  }
}

/**
 * Whether a failure means the other nodes are out of reach right now (Redis
 * away, or answering "not now"), rather than a bug.
 */
export function isOutage(err: unknown): boolean {
  return err instanceof BrokerUnavailable || isTransient(err);
}

/** How much of a room's history is kept, and for how long. */
export interface HistoryLimits {
  /** Messages kept per room (HISTORY_SIZE). */
  size: number;
  /** Milliseconds; 0 keeps messages until `size` pushes them out. */
  maxAgeMs: number;
  /** A room nobody reads or writes for this long is forgotten: it starts over as a new epoch. */
  idleMs: number;
  /** Where some rooms are kept longer than `idleMs` (a conversation waits for its members to come back). */
  idleMsOf?: (room: string) => number;
}

/** How long `room` may go unused before it is forgotten. */
export function idleMsOf(limits: HistoryLimits, room: string): number {
  return limits.idleMsOf?.(room) ?? limits.idleMs;
}

/** A chat message to store and publish: its JSON is `head + mid + tail`, since only the broker knows the mid. */
export interface UnnumberedMessage {
  head: string;
  tail: string;
}

/**
 * What a change (edit, deletion, reaction) is to its message: history keeps
 * each message with its current changes, one per `key` (the newest edit,
 * each (user, emoji)'s last word, the deletion), so changes never push
 * messages out of what a joiner sees.
 */
export interface ChangeOf {
  kind: "edit" | "react" | "delete";
  target: number;
  key: string;
  /**
   * The archive keeps the message, which Redis's window no longer holds:
   * the change is stored and carried all the same (the archive is the
   * record), and the window, which has no bundle to change, is left as it is.
   */
  archived?: boolean;
}

/** A change named a message that history does not hold, or holds deleted: nothing was stored. */
export class MessageGone extends Error {
  constructor(
    readonly target: number,
    /** The epoch the room's history is in, where the broker knows it. */
    readonly epoch?: string,
  ) {
    super(`no message ${target} to change`);
  }
}

/** Where a stored message went: its mid, in the room's history of that epoch. */
export interface StoredAt {
  mid: number;
  epoch: string;
}

export interface HistoryQuery {
  /** Everything after this mid (recovery). */
  since?: number;
  /** The epoch the client saw `since` in; a different one means history was reset. */
  epoch?: string;
  /** Older than this mid (scroll-back). */
  before?: number;
  /** Messages at most; each comes with its current changes. */
  limit: number;
}

export interface HistoryPage {
  /** Changes when a room's history is lost (an unpersisted Redis restart, a restarted embedded node). */
  epoch: string;
  /** The newest mid the room has ever had (0 for none). */
  top: number;
  /**
   * Oldest first; `json` is the frame as every member was sent it. For
   * `since`, every entry after it; for a page, its messages (a deleted one as
   * a tombstone without its text) and each one's current changes.
   */
  messages: { mid: number; json: string }[];
  /** For `since`: history still held every message after it. For a page: nothing older is left. */
  complete: boolean;
}

export interface BrokerHandler {
  /** A room publication, in the room's mid order, each mid once. */
  onRoom(room: string, envelope: Envelope): void;
  onNode(message: NodeMessage): void;
  /** A room's history started over (Redis lost it): mids begin again at 1 under this epoch. */
  onHistoryReset(room: string, epoch: string): void;
}

export interface Broker {
  readonly nodeId: string;
  start(handler: BrokerHandler): Promise<void>;
  /** Begin receiving a room's publications; resolves once none can be missed. */
  subscribe(room: string): Promise<void>;
  unsubscribe(room: string): Promise<void>;
  /** Fan out a frame that is not stored (presence, typing): `json`, and the envelope's `exclude` and `kind`. */
  publish(room: string, envelope: Envelope): Promise<void>;
  /**
   * Append a chat message to the room's history and fan it out, atomically;
   * resolves with its mid and epoch. With an idempotency key, a message sent
   * again within IDEMPOTENCY_WINDOW_S is not stored again: the first one's mid comes back.
   * A change says what it changes; one to a message history does not hold
   * (or holds deleted) throws MessageGone.
   */
  publishStored(
    room: string,
    message: UnnumberedMessage,
    idempotencyKey?: string,
    change?: ChangeOf,
  ): Promise<StoredAt>;
  history(room: string, query: HistoryQuery): Promise<HistoryPage>;
  /** Resolves false when no such node is listening. */
  sendToNode(nodeId: string, message: NodeMessage): Promise<boolean>;
  /** True while publications reach the other nodes. */
  isUp(): boolean;
  close(): Promise<void>;
}
