import { type RawData, WebSocket } from "ws";
import { BasePeer, type PeerContext } from "./base-peer.js";
import { type OutFrame, websocketFrameFor } from "./out-frame.js";
import { BrokenFraming, closeFrame, parseMessages } from "./sockjs-json.js";
import { PreparedFrame, writePrepared } from "./ws-frames.js";

const OPEN_FRAME = new PreparedFrame("o");
const HEARTBEAT_FRAME = new PreparedFrame("h");

/**
 * The WebSocket class our server has ws make: it hands its events straight
 * to its peer instead of keeping listeners, which would be an event table
 * and closures held by every connection for its lifetime.
 */
export class PeerSocket extends WebSocket {
  peer: WebsocketPeer | undefined;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const peer = this.peer;
    if (!peer) return false;
    switch (event) {
      case "message":
        peer.onData(args[0] as RawData, args[1] as boolean);
        break;
      case "close":
        peer.onGone();
        break;
      case "pong":
        peer.awaitingPong = false;
        break;
      // "error": ws reports a protocol error, then closes the socket, which "close" handles.
    }
    return true;
  }
}

/**
 * A websocket connection, with SockJS framing (`o`, `a[...]`, `h`, `c[...]`)
 * or raw (the `/websocket` endpoint: one text message per message, close
 * codes in the websocket close frame).
 */
export class WebsocketPeer extends BasePeer {
  awaitingPong = false;

  constructor(
    private readonly ws: PeerSocket,
    private readonly framing: "sockjs" | "raw",
    clientAddress: string,
    query: string,
    ctx: PeerContext,
  ) {
    super(framing === "sockjs" ? "websocket" : "websocket-raw", clientAddress, query, ctx);
    ws.peer = this;
    if (framing === "sockjs") writePrepared(ws, OPEN_FRAME);
  }

  get backlog(): number {
    return this.ws.bufferedAmount;
  }

  protected write(frames: OutFrame[]): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.framing === "sockjs") {
      writePrepared(this.ws, websocketFrameFor(frames));
      return;
    }
    for (const frame of frames) writePrepared(this.ws, frame.raw);
  }

  protected end(code: number, reason: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.framing === "sockjs") {
      this.ws.send(closeFrame(code, reason));
      this.ws.close(1000, "Normal closure");
    } else {
      this.ws.close(code, reason);
    }
  }

  /** A ping that went unanswered for a whole interval means the peer is gone; a SockJS client also gets `h`. */
  heartbeat(): void {
    if (this.awaitingPong) {
      this.ws.terminate();
      return;
    }
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.awaitingPong = true;
    this.ws.ping();
    if (this.framing === "sockjs") writePrepared(this.ws, HEARTBEAT_FRAME);
  }

  onData(data: RawData, isBinary: boolean): void {
    const text = data.toString();
    if (this.framing === "raw") {
      if (isBinary) this.close(1003, "Text frames only");
      else this.receive([text]);
      return;
    }
    // Empty frames are allowed and mean nothing.
    if (text.length === 0) return;
    let messages: string[];
    try {
      messages = parseMessages(text, "allow-single");
    } catch (err) {
      if (!(err instanceof BrokenFraming)) throw err;
      // The protocol ends such a connection abruptly: no close frame, and nothing of the frame is read.
      this.ws.terminate();
      return;
    }
    this.receive(messages);
  }

  onGone(): void {
    this.finish();
  }
}
