import { BasePeer, type PeerContext } from "./base-peer.js";
import type { OutFrame } from "./out-frame.js";
import type { TransportName } from "./peer.js";
import { closeFrame } from "./sockjs-json.js";

/**
 * Where a session's frames go for a while: one HTTP response (a poll that
 * ends after one frame, or a stream that ends after its byte limit) or one
 * draft-76 websocket.
 */
export interface Receiver {
  /** Writes one SockJS frame; a receiver that is done after it detaches itself. */
  sendFrame(frame: string): void;
  /** Ends the response or socket, cleanly. */
  end(): void;
  /** Cuts the connection off: the client is gone. The receiver then detaches as aborted. */
  destroy(): void;
  /** Bytes written to it that have not yet left the process. */
  readonly backlog: number;
  /** True once a heartbeat found it writing nothing for a whole interval with bytes waiting. */
  stalled(): boolean;
}

export interface SessionContext extends PeerContext {
  readonly disconnectDelayMs: number;
  /** Removes a session from the server's table once it is of no more use. */
  forget(session: SockjsSession): void;
}

/**
 * A SockJS session over HTTP requests: messages wait in a queue until a
 * receiver is attached, and the session outlives each request. A session
 * that has no receiver for `disconnectDelayMs` is gone; a closed one keeps
 * answering with its close frame for as long again.
 */
export class SockjsSession extends BasePeer {
  private queue: string[] = [];
  private queuedBytes = 0;
  private receiver: Receiver | undefined;
  private opened = false;
  private closedWith: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly sessionId: string | undefined,
    transport: TransportName,
    clientAddress: string,
    query: string,
    private readonly sctx: SessionContext,
  ) {
    super(transport, clientAddress, query, sctx);
    this.startTimer();
  }

  get backlog(): number {
    return this.queuedBytes + (this.receiver?.backlog ?? 0);
  }

  /** True for a new session that no receiver has opened yet. */
  get isNew(): boolean {
    return !this.opened;
  }

  /**
   * Gives the session a receiver: a new session says `o`, a closed one its
   * close frame; a session that already has one turns the newcomer away.
   * Returns true when the session was opened by this call.
   */
  attach(receiver: Receiver): boolean {
    if (this.receiver) {
      receiver.sendFrame(closeFrame(2010, "Another connection still open"));
      receiver.end();
      return false;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closedWith !== undefined) {
      // What was sent before the close (a refusal's error) comes first; a poll takes it alone, the next one the close.
      this.drainTo(receiver);
      receiver.sendFrame(this.closedWith);
      receiver.end();
      this.startTimer();
      return false;
    }
    this.receiver = receiver;
    const opening = !this.opened;
    if (opening) {
      this.opened = true;
      receiver.sendFrame("o");
    }
    this.drain();
    return opening;
  }

  /** The receiver is done: ended after its frames, or cut off by the client (`aborted`). */
  detach(receiver: Receiver, aborted: boolean): void {
    if (this.receiver !== receiver) return;
    this.receiver = undefined;
    // A network error leaves the client unsure what arrived: the session cannot go on.
    if (aborted && this.closedWith === undefined) this.closeAs(1002, "Connection interrupted");
    this.startTimer();
  }

  /** Messages from xhr_send or jsonp_send. */
  deliver(messages: readonly string[]): void {
    this.receive(messages);
  }

  heartbeat(): void {
    const receiver = this.receiver;
    if (!receiver) return;
    if (receiver.stalled()) {
      // Nothing left the process for a whole interval: the client is gone without a word.
      receiver.destroy();
      return;
    }
    receiver.sendFrame("h");
  }

  protected write(frames: OutFrame[]): void {
    for (const frame of frames) {
      const quoted = frame.quoted;
      this.queue.push(quoted);
      this.queuedBytes += quoted.length;
    }
    this.drain();
  }

  protected end(code: number, reason: string): void {
    this.closeAs(code, reason);
  }

  private closeAs(code: number, reason: string): void {
    this.closedWith = closeFrame(code, reason);
    // Frames still waiting for a poll are kept for it, unless they are a backlog the client stopped reading.
    if (this.queuedBytes > this.sctx.maxPendingBytes && this.sctx.maxPendingBytes > 0) {
      this.queue = [];
      this.queuedBytes = 0;
    }
    const receiver = this.receiver;
    if (receiver) {
      this.drainTo(receiver);
      receiver.sendFrame(this.closedWith);
      receiver.end();
      this.receiver = undefined;
      this.startTimer();
    }
    this.finish();
  }

  private drain(): void {
    if (this.receiver) this.drainTo(this.receiver);
  }

  private drainTo(receiver: Receiver): void {
    if (this.queue.length === 0) return;
    const frame = this.queue.length === 1 ? `a[${this.queue[0]}]` : `a[${this.queue.join(",")}]`;
    this.queue = [];
    this.queuedBytes = 0;
    receiver.sendFrame(frame);
  }

  /** With no receiver: an open session times out, a closed one is forgotten. */
  private startTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.receiver) return;
      if (this.closedWith === undefined) {
        this.closedWith = closeFrame(1000, "Session timed out");
        this.finish();
      }
      this.sctx.forget(this);
    }, this.sctx.disconnectDelayMs);
    this.timer.unref();
  }
}
