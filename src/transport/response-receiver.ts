import type { ServerResponse } from "node:http";
import type { Receiver, SockjsSession } from "./sockjs-session.js";

/** How one SockJS frame is written on a transport. */
export type Framing = (frame: string) => string;

/**
 * Notices a connection that takes nothing for a whole heartbeat interval
 * while bytes wait for it: a client that vanished without closing.
 */
export class StallWatch {
  private waitingBefore = false;
  private lastBacklog = 0;

  check(backlog: number): boolean {
    const stuck = backlog > 0 && this.waitingBefore && backlog >= this.lastBacklog;
    this.waitingBefore = backlog > 0;
    this.lastBacklog = backlog;
    return stuck;
  }
}

/**
 * One HTTP response that carries a session's frames: a poll (`limit` 1: it
 * ends after its first frame) or a stream (it ends once `limit` bytes of
 * frames went out, so that browsers let go of what they buffered).
 */
export class ResponseReceiver implements Receiver {
  private written = 0;
  private done = false;
  private readonly watch = new StallWatch();

  constructor(
    private readonly res: ServerResponse,
    private readonly session: SockjsSession,
    private readonly framing: Framing,
    private readonly limit: number,
  ) {
    res.once("close", () => {
      if (this.done) return;
      this.done = true;
      session.detach(this, true);
    });
  }

  get backlog(): number {
    return this.done ? 0 : this.res.writableLength;
  }

  sendFrame(frame: string): void {
    if (this.done) return;
    const chunk = this.framing(frame);
    this.res.write(chunk);
    this.written += chunk.length;
    if (this.written >= this.limit) {
      this.end();
      this.session.detach(this, false);
    }
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }

  stalled(): boolean {
    return this.watch.check(this.backlog);
  }
}
