import type { Logger } from "pino";
import type { LivePeers } from "./live-peers.js";
import type { OutFrame } from "./out-frame.js";
import type { Peer, PeerListener, TransportName } from "./peer.js";

/** What every connection of one SockJS server shares. */
export interface PeerContext {
  readonly maxPendingBytes: number;
  readonly log: Logger;
  /** The server's live connections, for heartbeats and shutdown. */
  readonly live: LivePeers<BasePeer>;
}

/** Connections with frames waiting for the end of this tick. */
let due = new Set<BasePeer>();
let flushScheduled = false;

function flushDue(): void {
  flushScheduled = false;
  const peers = due;
  due = new Set();
  for (const peer of peers) peer.flush();
}

/**
 * The transport-independent half of a connection: listeners, the frames
 * queued this tick, the slow-consumer check, and the rule that a connection
 * closed in the middle of a frame reads nothing more of it.
 */
export abstract class BasePeer implements Peer {
  private listener: PeerListener | undefined;
  private queued: OutFrame[] | undefined;
  private ended = false;
  /** The slice of the heartbeat interval this connection beats on, for its whole life. */
  private readonly heartbeatSlice: number;

  constructor(
    readonly transport: TransportName,
    readonly clientAddress: string,
    readonly query: string,
    protected readonly ctx: PeerContext,
  ) {
    this.heartbeatSlice = ctx.live.add(this);
  }

  abstract get backlog(): number;
  /** Puts one tick's frames on the wire. */
  protected abstract write(frames: OutFrame[]): void;
  /** Puts the close frame on the wire and ends the transport. */
  protected abstract end(code: number, reason: string): void;
  /** Called about every heartbeat interval: send a heartbeat, drop the connection if it no longer answers. */
  abstract heartbeat(): void;

  get closed(): boolean {
    return this.ended;
  }

  send(frame: OutFrame): void {
    if (this.ended) return;
    if (this.queued) {
      this.queued.push(frame);
      return;
    }
    this.queued = [frame];
    due.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDue);
    }
  }

  /** Writes what this tick queued, then checks the backlog once. */
  flush(): void {
    const frames = this.queued;
    this.queued = undefined;
    if (!frames || this.ended) return;
    this.write(frames);
    if (this.ctx.maxPendingBytes > 0 && this.backlog > this.ctx.maxPendingBytes) this.listener?.onSlowConsumer();
  }

  close(code: number, reason: string): void {
    if (this.ended) return;
    // What was queued goes out before the close frame.
    if (this.queued) {
      due.delete(this);
      this.flush();
      if (this.ended) return;
    }
    this.end(code, reason);
    this.finish();
  }

  listen(listener: PeerListener): void {
    this.listener = listener;
  }

  /**
   * Hands the messages of one incoming frame to the listener in order. A
   * listener that closes the connection ends the frame there; one that throws
   * loses its connection, never the process.
   */
  protected receive(messages: readonly string[]): void {
    for (const text of messages) {
      if (this.ended) return;
      try {
        this.listener?.onMessage(text);
      } catch (err) {
        this.ctx.log.error({ err, transport: this.transport }, "a message handler failed; closing the connection");
        this.close(1011, "Server error");
        return;
      }
    }
  }

  /** The transport is gone (closed by either side): tell the listener once and forget the connection. */
  protected finish(): void {
    if (!this.ended) this.ended = true;
    if (!this.ctx.live.delete(this, this.heartbeatSlice)) return;
    this.queued = undefined;
    due.delete(this);
    const listener = this.listener;
    this.listener = undefined;
    listener?.onClose();
  }
}
