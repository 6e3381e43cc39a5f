import type { Server as HttpServer } from "node:http";
import type { Logger } from "pino";
import sockjs from "sockjs";

export const SOCK_PREFIX = "/sock";
/** Where our own copy of sockjs-client is served; the iframe transports load it from here. */
export const SOCKJS_CLIENT_PATH = "/vendor/sockjs.min.js";

/** One client connection, whatever SockJS transport carries it. */
export interface Peer {
  readonly sessionId: string;
  readonly transport: string;
  readonly remoteAddress: string;
  /** The URL the connection was opened with, query included. */
  readonly url: string | undefined;
  send(frame: string): void;
  close(code: number, reason: string): void;
  onMessage(listener: (raw: string) => void): void;
  onClose(listener: () => void): void;
}

function toPeer(conn: sockjs.Connection): Peer {
  return {
    sessionId: conn.id,
    transport: conn.protocol,
    remoteAddress: conn.remoteAddress,
    url: conn.url,
    send: (frame) => {
      conn.write(frame);
    },
    close: (code, reason) => {
      conn.close(String(code), reason);
    },
    onMessage: (listener) => {
      conn.on("data", listener);
    },
    onClose: (listener) => {
      conn.on("close", listener);
    },
  };
}

export function installSockjs(server: HttpServer, log: Logger, onPeer: (peer: Peer) => void): void {
  const endpoint = sockjs.createServer({
    prefix: SOCK_PREFIX,
    sockjs_url: SOCKJS_CLIENT_PATH,
    log: (severity, message) => {
      if (severity === "error") log.error({ component: "sockjs" }, message);
      else log.trace({ component: "sockjs" }, message);
    },
  });
  endpoint.on("connection", (conn: sockjs.Connection | null) => {
    // sockjs emits a null connection for a session that closed before opening.
    if (conn) onPeer(toPeer(conn));
  });
  endpoint.installHandlers(server);
}
