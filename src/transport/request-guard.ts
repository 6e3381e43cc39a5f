import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";

export interface GuardOptions {
  prefix: string;
  /** Unset: any origin may connect, as SockJS intends for chats embedded in other sites. */
  allowedOrigins: string[] | undefined;
  maxBodyBytes: number;
}

function originOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(value).origin;
  } catch {
    return "null";
  }
}

/**
 * Whether a request to the SockJS endpoint comes from an allowed page. The
 * page's origin is the Origin header, or, for requests that carry none (the
 * iframe page, JSONP script tags), the Referer's origin. A request with
 * neither comes from no page at all (a native client) and is let through;
 * the server's own pages always are.
 */
export function originAllowed(req: IncomingMessage, allowed: string[] | undefined): boolean {
  if (!allowed) return true;
  const origin = originOf(req.headers.origin) ?? originOf(req.headers.referer);
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host && (origin === `http://${host}` || origin === `https://${host}`)) return true;
  return allowed.includes(origin);
}

/**
 * Puts checks in front of the handlers sockjs installed on the server: the
 * origin allow-list for every transport (the websocket upgrade included) and
 * a cap on request bodies, which sockjs would otherwise read whole.
 */
export function guardSockjs(server: HttpServer, options: GuardOptions, log: Logger): void {
  const isSock = (req: IncomingMessage) =>
    req.url === options.prefix || req.url?.startsWith(`${options.prefix}/`) === true;
  const refuse = (req: IncomingMessage, why: string) => {
    log.info({ url: req.url?.split("?")[0], origin: req.headers.origin, why }, "sockjs request refused");
  };

  const onRequest = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (isSock(req)) {
      if (!originAllowed(req, options.allowedOrigins)) {
        refuse(req, "origin");
        res.writeHead(403, { "Content-Type": "text/plain" }).end("Origin not allowed");
        return;
      }
      if (req.method === "POST" && !capBody(req, res, options.maxBodyBytes)) {
        refuse(req, "body too large");
        return;
      }
    }
    for (const listener of onRequest) listener.call(server, req, res);
  });

  const onUpgrade = server.listeners("upgrade") as ((req: IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  server.removeAllListeners("upgrade");
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isSock(req) && !originAllowed(req, options.allowedOrigins)) {
      refuse(req, "origin");
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nOrigin not allowed");
      return;
    }
    for (const listener of onUpgrade) listener.call(server, req, socket, head);
  });
}

/** Refuses a body declared too large; cuts off one that turns out too large while it streams. */
function capBody(req: IncomingMessage, res: ServerResponse, max: number): boolean {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) {
    res.writeHead(413, { "Content-Type": "text/plain", Connection: "close" }).end("Payload too large");
    req.resume();
    return false;
  }
  let seen = 0;
  req.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > max) req.destroy();
  });
  return true;
}
