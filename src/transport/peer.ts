import type { OutFrame } from "./out-frame.js";

/** How a connection reaches the server; the chat layer uses it as a metrics label and nothing else. */
export type TransportName =
  | "websocket"
  | "websocket-raw"
  | "xhr-polling"
  | "xhr-streaming"
  | "eventsource"
  | "htmlfile"
  | "jsonp-polling";

/**
 * One client connection, whatever transport carries it: the seam between the
 * SockJS server and the chat. The SockJS session id never crosses it (the
 * client chose it, and whoever knows it can speak for an HTTP session).
 */
export interface Peer {
  readonly transport: TransportName;
  /** The client's address: the socket's, or the one the trusted proxy saw. */
  readonly clientAddress: string;
  /** The query string the connection was opened with, without `?` ("" for none). */
  readonly query: string;
  /** Bytes sent to this connection that have not yet left the process. */
  readonly backlog: number;
  /**
   * Queues a frame. Every connection's queue is written at the end of the
   * tick: one SockJS frame and one socket write, however many it holds.
   */
  send(frame: OutFrame): void;
  /** Sends what is queued, then the close frame; `onClose` listeners run once, now. */
  close(code: number, reason: string): void;
  /**
   * Who hears what happens on this connection. One object, not a closure per
   * event: a server holds thousands of connections, each for hours.
   */
  listen(listener: PeerListener): void;
}

export interface PeerListener {
  /**
   * Each message the client sent, in order. A listener that closes the
   * connection stops the rest of the frame it came in: nothing after it is read.
   */
  onMessage(text: string): void;
  /** Once, when the connection ends for any reason. */
  onClose(): void;
  /** The backlog passed the server's `maxPendingBytes`. */
  onSlowConsumer(): void;
}
