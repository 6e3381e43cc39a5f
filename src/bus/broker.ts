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

/** A room publication as it travels to every subscribed node. */
export interface Envelope {
  /** Set for stored messages: their position in the room's history. */
  mid?: number;
  /** A connection id that must not receive this frame (the sender of `typing`, `user_join`). */
  exclude?: string;
  /** The exact text every local recipient is sent. */
  frame: string;
}

/** A chat message to store and publish: its frame is `head + mid + tail`, since only the broker knows the mid. */
export interface StoredFrame {
  head: string;
  tail: string;
}

export interface HistoryQuery {
  /** Everything after this mid (recovery). */
  since?: number;
  /** The epoch the client saw `since` in; a different one means history was reset. */
  epoch?: string;
  /** Older than this mid (scroll-back). */
  before?: number;
  limit: number;
}

export interface HistoryPage {
  /** Changes when a room's history is lost (an unpersisted Redis restart, a restarted embedded node). */
  epoch: string;
  /** The newest mid the room has ever had (0 for none). */
  top: number;
  /** Oldest first. */
  messages: { mid: number; frame: string }[];
  /** For `since`: history still held every message after it. For a page: nothing older is left. */
  complete: boolean;
}

/** What one node asks another: routed by the node id inside a connection id. */
export type NodeMessage =
  | { t: "frame"; to: string; frame: string }
  | {
      t: "pm";
      to: string;
      from: { id: string; name: string };
      message: string;
      ts: number;
      ref?: string | number;
    };

export interface BrokerHandler {
  onRoom(room: string, envelope: Envelope): void;
  onNode(message: NodeMessage): void;
  /** A room's history started over (Redis lost it): mids begin again at 1 under this epoch. */
  onReset(room: string, epoch: string): void;
}

export interface Broker {
  readonly nodeId: string;
  start(handler: BrokerHandler): Promise<void>;
  /** Begin receiving a room's publications; resolves once none can be missed. */
  subscribe(room: string): Promise<void>;
  unsubscribe(room: string): Promise<void>;
  /** Fan out a frame that is not stored (presence, typing). */
  publish(room: string, frame: string, exclude?: string): Promise<void>;
  /**
   * Append a chat message to the room's history and fan it out, atomically;
   * resolves with its mid. With an idempotency key, a message sent again
   * within IDEMPOTENCY_WINDOW_S is not stored again: the first one's mid comes back.
   */
  publishStored(room: string, message: StoredFrame, idempotencyKey?: string): Promise<number>;
  history(room: string, query: HistoryQuery): Promise<HistoryPage>;
  /** Resolves false when no such node is listening. */
  sendToNode(nodeId: string, message: NodeMessage): Promise<boolean>;
  /** True while publications reach the other nodes. */
  isUp(): boolean;
  close(): Promise<void>;
}
