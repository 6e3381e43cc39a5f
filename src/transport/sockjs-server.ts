/**
 * The SockJS endpoint: every URL of the SockJS protocol under one prefix
 * (info, iframe page, the HTTP transports, the websocket upgrades), and the
 * registry of HTTP sessions they share. It runs past 250 lines because the
 * request router, the upgrade router and the session registry answer the
 * same URLs and must agree on them; each transport's own work lives in its
 * module (http-transports, websocket-peer, hixie76, sockjs-session).
 */
import { type Server as HttpServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { AddressCounter } from "./address-counter.js";
import type { BasePeer } from "./base-peer.js";
import { Hixie76Connection, isHixie76 } from "./hixie76.js";
import { methodNotAllowed, notFound, plainError, preflight } from "./http-headers.js";
import {
  eventSource,
  type HttpTransportHost,
  htmlFile,
  jsonpPoll,
  jsonpSend,
  type RefusalReason,
  xhrPoll,
  xhrSend,
  xhrStreaming,
} from "./http-transports.js";
import { LivePeers } from "./live-peers.js";
import { LogSampler } from "./log-sampler.js";
import type { Peer, TransportName } from "./peer.js";
import { BrokenFraming, parseMessages } from "./sockjs-json.js";
import { greeting, IframePage, info } from "./sockjs-pages.js";
import { type SessionContext, SockjsSession } from "./sockjs-session.js";
import { PeerSocket, WebsocketPeer } from "./websocket-peer.js";

export interface SockjsOptions {
  /** The URL path the endpoint lives under, e.g. `/sock`. */
  prefix: string;
  /** The sockjs-client script the iframe page loads. */
  sockjsUrl: string;
  /** Off answers `websocket: false` in /info and 404 to websocket URLs. */
  websocket: boolean;
  /** Set `JSESSIONID` on session responses, for load balancers that stick by it. */
  cookieNeeded: boolean;
  /** Bytes a streaming response carries before it ends and the client opens another. */
  responseLimit: number;
  /** How often every connection gets a heartbeat; a peer silent for two is dropped. */
  heartbeatMs: number;
  /** How long an HTTP session waits for its next request. */
  disconnectDelayMs: number;
  /** Largest incoming websocket message or HTTP body. */
  maxMessageBytes: number;
  /** How long xhr_send and jsonp_send wait for their whole body. */
  sendTimeoutMs: number;
  /** Send requests being read at once from one client address (0: no limit). */
  maxPendingPerAddress: number;
  /** Backlog over which a connection's slow-consumer listener runs (0: never). */
  maxPendingBytes: number;
  /** Where pages may frame the htmlfile transport and the iframe page: a CSP `frame-ancestors` value. */
  frameAncestors: string;
  /** The origin policy: false answers 403. */
  allowRequest(req: IncomingMessage): boolean;
  clientAddress(req: IncomingMessage): string;
  /** Counts a request refused before it reached a session, by reason (e.g. for /metrics). */
  countRefusal?(reason: RefusalReason): void;
  log: Logger;
}

/** Longest server or session id in a session URL: the protocol sets no bound, sockjs-client sends 3 and 8 characters. */
const MAX_ID_LENGTH = 64;
/** One log line per refusal reason per interval at most: refusals cost the client nothing to cause. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export const SOCKJS_DEFAULTS = {
  websocket: true,
  cookieNeeded: false,
  responseLimit: 128 * 1024,
  heartbeatMs: 25_000,
  disconnectDelayMs: 5_000,
  sendTimeoutMs: 5_000,
  maxPendingPerAddress: 0,
  frameAncestors: "*",
} as const;

type Handler = (host: HttpTransportHost, req: IncomingMessage, res: ServerResponse, sessionId: string) => unknown;

/** The session transports: the methods each answers, and the handler for its main one. */
const TRANSPORTS = new Map<string, { method: string; allow: string; handle?: Handler }>([
  ["websocket", { method: "GET", allow: "GET" }],
  ["xhr", { method: "POST", allow: "OPTIONS, POST", handle: xhrPoll }],
  ["xhr_send", { method: "POST", allow: "OPTIONS, POST", handle: xhrSend }],
  ["xhr_streaming", { method: "POST", allow: "OPTIONS, POST", handle: xhrStreaming }],
  ["eventsource", { method: "GET", allow: "GET", handle: eventSource }],
  ["htmlfile", { method: "GET", allow: "GET", handle: htmlFile }],
  ["jsonp", { method: "GET", allow: "GET", handle: jsonpPoll }],
  ["jsonp_send", { method: "POST", allow: "POST", handle: jsonpSend }],
]);

const SESSION_PATH = /^\/([^/.]+)\/([^/.]+)\/([a-z_]+)$/;
const IFRAME_PATH = /^\/iframe[0-9a-z._-]*\.html$/;

/** Server and session ids within MAX_ID_LENGTH: a longer one is refused before a session is made of it. */
function idsFit(match: RegExpExecArray): boolean {
  return (match[1] as string).length <= MAX_ID_LENGTH && (match[2] as string).length <= MAX_ID_LENGTH;
}

/** Answers an upgrade that will not be one, and lets the socket go at once. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const reason = STATUS_CODES[status] ?? "Error";
  socket.once("finish", () => socket.destroy());
  socket.once("error", () => socket.destroy());
  // A 405 carries no body and no content type, as the protocol wants.
  const rest =
    status === 405
      ? "Allow: GET\r\nContent-Length: 0\r\n\r\n"
      : `Content-Type: text/plain; charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${rest}`);
}

/**
 * A SockJS server (the protocol sockjs-client speaks) on `ws` and node:http:
 * the info and iframe pages, websocket and raw websocket, and the HTTP
 * streaming and polling transports with their sessions. Each connection is
 * handed to `onConnection` as a `Peer` once it is open.
 */
export class SockjsServer implements HttpTransportHost {
  private readonly sessions = new Map<string, SockjsSession>();
  private readonly live: LivePeers<BasePeer>;
  private readonly wss: WebSocketServer;
  private readonly iframe: IframePage;
  private readonly ctx: SessionContext;
  private readonly refusalLog = new LogSampler(REFUSAL_LOG_INTERVAL_MS);
  private readonly pending: AddressCounter;

  constructor(
    private readonly options: SockjsOptions,
    private readonly onConnection: (peer: Peer) => void,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      WebSocket: PeerSocket,
    });
    this.iframe = new IframePage(options.sockjsUrl, options.frameAncestors);
    this.pending = new AddressCounter(options.maxPendingPerAddress);
    this.live = new LivePeers(options.heartbeatMs);
    this.ctx = {
      maxPendingBytes: options.maxPendingBytes,
      disconnectDelayMs: options.disconnectDelayMs,
      log: options.log,
      live: this.live,
      forget: (session) => {
        if (session.sessionId !== undefined && this.sessions.get(session.sessionId) === session) {
          this.sessions.delete(session.sessionId);
        }
      },
    };
  }

  get responseLimit(): number {
    return this.options.responseLimit;
  }
  get maxMessageBytes(): number {
    return this.options.maxMessageBytes;
  }
  get sendTimeoutMs(): number {
    return this.options.sendTimeoutMs;
  }
  get cookieNeeded(): boolean {
    return this.options.cookieNeeded;
  }
  get frameAncestors(): string {
    return this.options.frameAncestors;
  }

  /** Open connections, every transport. */
  get connections(): number {
    return this.live.size;
  }

  /** The part of a URL's path below the prefix, or undefined when the URL is not this server's. */
  private below(url: string | undefined): { rest: string; query: string } | undefined {
    const raw = url ?? "/";
    const q = raw.indexOf("?");
    const path = q === -1 ? raw : raw.slice(0, q);
    const { prefix } = this.options;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return undefined;
    return { rest: path.slice(prefix.length), query: q === -1 ? "" : raw.slice(q + 1) };
  }

  /** Answers a request under the prefix and returns true; returns false for any other URL. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const route = this.below(req.url);
    if (!route) return false;
    try {
      if (!this.options.allowRequest(req)) {
        this.refused("origin", req);
        plainError(res, 403, "Origin not allowed");
        return true;
      }
      const answered = this.route(req, res, route.rest);
      if (answered instanceof Promise) answered.catch((err: unknown) => this.failed(err, req, res));
    } catch (err) {
      this.failed(err, req, res);
    }
    return true;
  }

  private route(req: IncomingMessage, res: ServerResponse, rest: string): unknown {
    const method = req.method ?? "GET";
    if (rest === "" || rest === "/") {
      if (method !== "GET" && method !== "HEAD") return methodNotAllowed(res, "GET");
      return greeting(res);
    }
    if (rest === "/info") {
      if (method === "OPTIONS") return preflight(req, res, "OPTIONS, GET");
      if (method !== "GET") return methodNotAllowed(res, "OPTIONS, GET");
      return info(req, res, this.options.websocket, this.options.cookieNeeded);
    }
    if (IFRAME_PATH.test(rest)) {
      if (method !== "GET") return methodNotAllowed(res, "GET");
      return this.iframe.serve(req, res);
    }
    if (rest === "/websocket") return this.notUpgraded(res, method);
    const match = SESSION_PATH.exec(rest);
    const transport = match ? TRANSPORTS.get(match[3] as string) : undefined;
    if (!match || !transport || (match[3] === "websocket" && !this.options.websocket)) return notFound(res);
    if (!idsFit(match)) {
      this.refused("session_id", req);
      return notFound(res);
    }
    if (match[3] === "websocket") return this.notUpgraded(res, method);
    if (method === "OPTIONS" && transport.allow.startsWith("OPTIONS")) return preflight(req, res, transport.allow);
    if (method !== transport.method) return methodNotAllowed(res, transport.allow);
    return transport.handle?.(this, req, res, match[2] as string);
  }

  /** A websocket URL reached as a plain request (or with its Connection header rewritten by a proxy). */
  private notUpgraded(res: ServerResponse, method: string): void {
    if (method === "GET") plainError(res, 400, 'Can "Upgrade" only to "WebSocket".');
    else methodNotAllowed(res, "GET");
  }

  /** Takes an upgrade under the prefix and returns true; returns false for any other URL. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const route = this.below(req.url);
    if (!route) return false;
    try {
      this.upgrade(req, socket, head, route.rest, route.query);
    } catch (err) {
      this.options.log.error({ err }, "a websocket upgrade failed");
      socket.destroy();
    }
    return true;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, rest: string, query: string): void {
    if (!this.options.allowRequest(req)) {
      this.refused("origin", req);
      refuseUpgrade(socket, 403, "Origin not allowed");
      return;
    }
    const session = SESSION_PATH.exec(rest);
    const sockjsFraming = session?.[3] === "websocket";
    if (!(sockjsFraming || rest === "/websocket") || !this.options.websocket) {
      refuseUpgrade(socket, 404, "Not found");
      return;
    }
    if (session && !idsFit(session)) {
      this.refused("session_id", req);
      refuseUpgrade(socket, 404, "Not found");
      return;
    }
    if (req.method !== "GET") {
      refuseUpgrade(socket, 405, "");
      return;
    }
    const clientAddress = this.options.clientAddress(req);
    if (sockjsFraming && isHixie76(req)) {
      this.acceptHixie76(req, socket, head, clientAddress, query);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const peer = new WebsocketPeer(
        ws as PeerSocket,
        sockjsFraming ? "sockjs" : "raw",
        clientAddress,
        query,
        this.ctx,
      );
      this.onConnection(peer);
    });
  }

  private acceptHixie76(req: IncomingMessage, socket: Duplex, head: Buffer, clientAddress: string, query: string) {
    let session: SockjsSession | undefined;
    let receiver: Hixie76Connection | undefined;
    Hixie76Connection.accept(req, socket, head, this.options.maxMessageBytes, {
      onOpen: (connection) => {
        receiver = connection;
        session = new SockjsSession(undefined, "websocket", clientAddress, query, this.ctx);
        if (session.attach(connection)) this.onConnection(session);
      },
      onText: (text) => {
        if (!session || text.length === 0) return;
        try {
          session.deliver(parseMessages(text, "allow-single"));
        } catch (err) {
          if (!(err instanceof BrokenFraming)) throw err;
          // As on any websocket: broken framing ends the connection abruptly.
          socket.destroy();
        }
      },
      onGone: () => {
        if (session && receiver) session.detach(receiver, true);
      },
    });
  }

  sessionFor(sessionId: string, transport: TransportName, req: IncomingMessage): SockjsSession {
    let session = this.sessions.get(sessionId);
    if (!session) {
      const query = req.url?.split("?")[1] ?? "";
      session = new SockjsSession(sessionId, transport, this.options.clientAddress(req), query, this.ctx);
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  existingSession(sessionId: string): SockjsSession | undefined {
    const session = this.sessions.get(sessionId);
    return session && !session.closed ? session : undefined;
  }

  opened(session: SockjsSession): void {
    this.onConnection(session);
  }

  holdSlot(req: IncomingMessage, res: ServerResponse): boolean {
    const address = this.options.clientAddress(req);
    if (!this.pending.acquire(address)) return false;
    res.once("close", () => this.pending.release(address));
    return true;
  }

  refused(why: RefusalReason, req: IncomingMessage): void {
    this.options.countRefusal?.(why);
    const unlogged = this.refusalLog.take(why);
    if (unlogged === undefined) return;
    // The path only, cut short: a query string may carry a token, and a path may be kilobytes long.
    const url = req.url?.split("?")[0]?.slice(0, 200);
    this.options.log.info({ url, origin: req.headers.origin, why, unlogged }, "sockjs request refused");
  }

  private failed(err: unknown, req: IncomingMessage, res: ServerResponse): void {
    this.options.log.error({ err, url: req.url?.split("?")[0] }, "a sockjs request failed");
    if (!res.headersSent) plainError(res, 500, "Server error");
    else res.destroy();
  }

  /** Stops the heartbeats and ends every connection that is still open. */
  close(code: number, reason: string): void {
    this.live.stop();
    for (const peer of this.live.all()) peer.close(code, reason);
  }
}

/**
 * Routes an HTTP server's requests and upgrades to the SockJS servers whose
 * prefix they fall under, the other requests to `fallback`. An upgrade that
 * no SockJS server takes is answered 404 and its socket let go at once.
 */
export function attachSockjs(
  server: HttpServer,
  endpoints: SockjsServer[],
  fallback: (req: IncomingMessage, res: ServerResponse) => void,
): void {
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    for (const endpoint of endpoints) if (endpoint.handleRequest(req, res)) return;
    fallback(req, res);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    for (const endpoint of endpoints) if (endpoint.handleUpgrade(req, socket, head)) return;
    refuseUpgrade(socket, 404, "Not found");
  });
}
