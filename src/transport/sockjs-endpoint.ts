import type { Server as HttpServer } from "node:http";
import type { Logger } from "pino";
import sockjs from "sockjs";
import { type OutFrame, websocketBatch } from "./out-frame.js";
import { guardSockjs } from "./request-guard.js";

export const SOCK_PREFIX = "/sock";
/** Where our own copy of sockjs-client is served; the iframe transports load it from here. */
export const SOCKJS_CLIENT_PATH = "/vendor/sockjs.min.js";

/** One client connection, whatever SockJS transport carries it. */
export interface Peer {
  readonly sessionId: string;
  readonly transport: string;
  /** The client's address: the socket's, or X-Forwarded-For's first hop behind a trusted proxy. */
  readonly clientAddress: string;
  /** The URL the connection was opened with, query included. */
  readonly url: string | undefined;
  /**
   * Queues a frame; every connection's queue is written at the end of the
   * tick, as one SockJS frame and one socket write however many it holds.
   */
  send(frame: OutFrame): void;
  /** Called when more than `maxPendingBytes` written to this connection have not yet left the process. */
  onSlowConsumer(listener: () => void): void;
  close(code: number, reason: string): void;
  onMessage(listener: (raw: string) => void): void;
  onClose(listener: () => void): void;
}

export interface EndpointOptions {
  maxFrameBytes: number;
  maxPendingBytes: number;
  allowedOrigins: string[] | undefined;
  trustProxy: boolean;
}

/**
 * The parts of sockjs's session that tell how much is still unsent and that
 * reach the websocket's socket; sockjs has no public API for either.
 */
interface SessionInternals {
  readyState?: number;
  send_buffer?: string[];
  recv?: {
    thingy?: { writableLength?: number } | null;
    ws?: { _stream?: { writable: boolean; write(chunk: Buffer): boolean } } | null;
  } | null;
}

const OPEN = 1;

function sessionOf(conn: sockjs.Connection): SessionInternals | undefined {
  return (conn as unknown as { _session?: SessionInternals })._session;
}

function pendingBytesOf(conn: sockjs.Connection): number {
  const session = sessionOf(conn);
  if (!session) return 0;
  let queued = 0;
  for (const frame of session.send_buffer ?? []) queued += frame.length;
  return queued + (session.recv?.thingy?.writableLength ?? 0);
}

/** One connection's outgoing side: what waits for the end of the tick, and who to tell when it backs up. */
interface Outbox {
  conn: sockjs.Connection;
  frames: OutFrame[];
  maxPendingBytes: number;
  onSlow: (() => void) | undefined;
}

/** Outboxes with frames waiting for the end of this tick. */
const waiting = new Set<Outbox>();
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  for (const box of waiting) flush(box);
  waiting.clear();
}

/**
 * A SockJS websocket whose session has nothing queued gets the prepared
 * bytes straight onto its socket: sockjs would quote and faye-websocket
 * would frame and encode the same text once per recipient. Every other
 * transport goes through sockjs, which batches what it holds. Then, once per
 * tick rather than per frame, the connection is checked for a backlog.
 */
function flush(box: Outbox): void {
  const { conn, frames } = box;
  box.frames = [];
  const session = sessionOf(conn);
  const socket = session?.recv?.ws?._stream;
  if (
    conn.protocol === "websocket" &&
    session?.readyState === OPEN &&
    session.send_buffer?.length === 0 &&
    socket?.writable
  ) {
    socket.write(frames.length === 1 ? (frames[0] as OutFrame).websocketBytes : websocketBatch(frames));
  } else {
    for (const frame of frames) conn.write(frame.text);
  }
  if (box.onSlow && pendingBytesOf(conn) > box.maxPendingBytes) box.onSlow();
}

function enqueue(box: Outbox, frame: OutFrame): void {
  box.frames.push(frame);
  waiting.add(box);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushAll);
  }
}

function clientAddress(conn: sockjs.Connection, trustProxy: boolean): string {
  const forwarded = trustProxy ? conn.headers["x-forwarded-for"]?.split(",")[0]?.trim() : undefined;
  return forwarded || conn.remoteAddress || "unknown";
}

function toPeer(conn: sockjs.Connection, options: EndpointOptions): Peer {
  const box: Outbox = { conn, frames: [], maxPendingBytes: options.maxPendingBytes, onSlow: undefined };
  return {
    sessionId: conn.id,
    transport: conn.protocol,
    clientAddress: clientAddress(conn, options.trustProxy),
    url: conn.url,
    send: (frame) => enqueue(box, frame),
    onSlowConsumer: (listener) => {
      box.onSlow = listener;
    },
    close: (code, reason) => {
      // What was queued goes out before the close frame.
      if (waiting.delete(box)) flush(box);
      // sockjs puts the code into the close frame as given; clients expect a number there.
      conn.close(code as unknown as string, reason);
    },
    onMessage: (listener) => {
      conn.on("data", listener);
    },
    onClose: (listener) => {
      conn.on("close", listener);
    },
  };
}

export function installSockjs(
  server: HttpServer,
  options: EndpointOptions,
  log: Logger,
  onPeer: (peer: Peer) => void,
): void {
  const endpoint = sockjs.createServer({
    prefix: SOCK_PREFIX,
    sockjs_url: SOCKJS_CLIENT_PATH,
    log: (severity, message) => {
      if (severity === "error") log.error({ component: "sockjs" }, message);
      else log.trace({ component: "sockjs" }, message);
    },
    // Passed on to faye-websocket: a larger websocket message closes the socket (1009).
    faye_server_options: { maxLength: options.maxFrameBytes },
  } as sockjs.ServerOptions);
  endpoint.on("connection", (conn: sockjs.Connection | null) => {
    // sockjs emits a null connection for a session that closed before opening.
    if (conn) onPeer(toPeer(conn, options));
  });
  endpoint.installHandlers(server);
  guardSockjs(
    server,
    { prefix: SOCK_PREFIX, allowedOrigins: options.allowedOrigins, maxBodyBytes: options.maxFrameBytes },
    log,
  );
}
