import type { Server as HttpServer } from "node:http";
import type { Logger } from "pino";
import sockjs from "sockjs";
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
  send(frame: string): void;
  /** Bytes written to this connection that have not yet left the process. */
  pendingBytes(): number;
  close(code: number, reason: string): void;
  onMessage(listener: (raw: string) => void): void;
  onClose(listener: () => void): void;
}

export interface EndpointOptions {
  maxFrameBytes: number;
  allowedOrigins: string[] | undefined;
  trustProxy: boolean;
}

/** The parts of sockjs's session that tell how much is still unsent; sockjs has no public API for it. */
interface SessionInternals {
  send_buffer?: string[];
  recv?: { thingy?: { writableLength?: number } | null } | null;
}

function pendingBytesOf(conn: sockjs.Connection): number {
  const session = (conn as unknown as { _session?: SessionInternals })._session;
  if (!session) return 0;
  let queued = 0;
  for (const frame of session.send_buffer ?? []) queued += frame.length;
  return queued + (session.recv?.thingy?.writableLength ?? 0);
}

function clientAddress(conn: sockjs.Connection, trustProxy: boolean): string {
  const forwarded = trustProxy ? conn.headers["x-forwarded-for"]?.split(",")[0]?.trim() : undefined;
  return forwarded || conn.remoteAddress || "unknown";
}

function toPeer(conn: sockjs.Connection, options: EndpointOptions): Peer {
  return {
    sessionId: conn.id,
    transport: conn.protocol,
    clientAddress: clientAddress(conn, options.trustProxy),
    url: conn.url,
    send: (frame) => {
      conn.write(frame);
    },
    pendingBytes: () => pendingBytesOf(conn),
    close: (code, reason) => {
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
