import type { IncomingMessage, ServerResponse } from "node:http";
import { cors, noCache, plainError, sessionCookie } from "./http-headers.js";
import type { TransportName } from "./peer.js";
import { BodyTooLarge, BodyTooSlow, readBody } from "./request-body.js";
import { type Framing, ResponseReceiver } from "./response-receiver.js";
import { BrokenFraming, parseMessages, scriptString } from "./sockjs-json.js";
import type { SockjsSession } from "./sockjs-session.js";

/** Why the endpoint turned a request away before any session saw it. */
export type RefusalReason = "origin" | "session_id" | "body_too_large" | "body_too_slow" | "busy_address";

/** What the HTTP transports need of the server that routes to them. */
export interface HttpTransportHost {
  readonly responseLimit: number;
  readonly maxMessageBytes: number;
  /** How long a send endpoint waits for its whole body. */
  readonly sendTimeoutMs: number;
  readonly cookieNeeded: boolean;
  /** The CSP `frame-ancestors` value for pages served from the SockJS prefix. */
  readonly frameAncestors: string;
  /** The session of this id, made (and announced once opened) if it is new. */
  sessionFor(sessionId: string, transport: TransportName, req: IncomingMessage): SockjsSession;
  /** An existing, open session, for the send endpoints. */
  existingSession(sessionId: string): SockjsSession | undefined;
  /** Announces a session the first receiver just opened. */
  opened(session: SockjsSession): void;
  /**
   * Takes one of the client address's slots for a request being read, freed
   * when its response is done; false when the address has none left.
   */
  holdSlot(req: IncomingMessage, res: ServerResponse): boolean;
  /** Counts a failure the client caused, and logs it at a sampled rate. */
  refused(why: RefusalReason, req: IncomingMessage): void;
}

const POLL = 1;
const XHR_PRELUDE = `${"h".repeat(2048)}\n`;
// Callback names may only reach into the parent page's properties.
const CALLBACK = /^[a-zA-Z0-9_.-]{1,64}$/;

const lines: Framing = (frame) => `${frame}\n`;
const events: Framing = (frame) => `data: ${frame}\r\n\r\n`;
const htmlScript: Framing = (frame) => `<script>\np(${scriptString(frame)});\n</script>\r\n`;

function htmlfileHead(callback: string): string {
  const html = [
    "<!doctype html>",
    "<html><head>",
    '  <meta http-equiv="X-UA-Compatible" content="IE=edge" />',
    '  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />',
    "</head><body><h2>Don't panic!</h2>",
    "  <script>",
    "    document.domain = document.domain;",
    `    var c = parent.${callback};`,
    "    c.start();",
    "    function p(d) {c.message(d);};",
    "    window.onload = function() {c.stop();};",
    "  </script>",
  ].join("\n");
  // Old browsers start running a streamed page only after its first kilobyte.
  return `${html}${" ".repeat(Math.max(0, 1025 - html.length))}\r\n\r\n`;
}

/** The `c` (or `callback`) parameter, or the reason it is refused. */
function callbackOf(req: IncomingMessage): { name: string } | { error: string } {
  const query = new URLSearchParams(req.url?.split("?")[1] ?? "");
  const name = query.get("c") ?? query.get("callback");
  if (name === null) return { error: '"callback" parameter required' };
  if (!CALLBACK.test(name)) return { error: 'invalid "callback" parameter' };
  return { name };
}

function sessionHeaders(host: HttpTransportHost, req: IncomingMessage, res: ServerResponse): void {
  noCache(res);
  if (host.cookieNeeded) sessionCookie(req, res);
}

function receive(
  host: HttpTransportHost,
  req: IncomingMessage,
  res: ServerResponse,
  sessionId: string,
  transport: TransportName,
  framing: Framing,
  limit: number,
  prelude?: string,
): void {
  const session = host.sessionFor(sessionId, transport, req);
  res.writeHead(200);
  if (prelude !== undefined) res.write(prelude);
  if (session.attach(new ResponseReceiver(res, session, framing, limit))) host.opened(session);
}

export function xhrPoll(host: HttpTransportHost, req: IncomingMessage, res: ServerResponse, sessionId: string): void {
  cors(req, res);
  sessionHeaders(host, req, res);
  res.setHeader("Content-Type", "application/javascript; charset=UTF-8");
  receive(host, req, res, sessionId, "xhr-polling", lines, POLL);
}

export function xhrStreaming(
  host: HttpTransportHost,
  req: IncomingMessage,
  res: ServerResponse,
  sessionId: string,
): void {
  cors(req, res);
  sessionHeaders(host, req, res);
  res.setHeader("Content-Type", "application/javascript; charset=UTF-8");
  receive(host, req, res, sessionId, "xhr-streaming", lines, host.responseLimit, XHR_PRELUDE);
}

export function eventSource(
  host: HttpTransportHost,
  req: IncomingMessage,
  res: ServerResponse,
  sessionId: string,
): void {
  sessionHeaders(host, req, res);
  res.setHeader("Content-Type", "text/event-stream");
  res.setHeader("X-Content-Type-Options", "nosniff");
  receive(host, req, res, sessionId, "eventsource", events, host.responseLimit, "\r\n");
}

/**
 * A streamed HTML page of `<script>` elements. Every frame is a JavaScript
 * string with `<`, `>` and `&` escaped, so no message can end the script; the
 * page runs only inline script and may be framed only where the chat may be.
 */
export function htmlFile(host: HttpTransportHost, req: IncomingMessage, res: ServerResponse, sessionId: string): void {
  const callback = callbackOf(req);
  if ("error" in callback) {
    plainError(res, 500, callback.error);
    return;
  }
  sessionHeaders(host, req, res);
  res.setHeader("Content-Type", "text/html; charset=UTF-8");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader(
    "Content-Security-Policy",
    `default-src 'none'; script-src 'unsafe-inline'; frame-ancestors ${host.frameAncestors}`,
  );
  receive(host, req, res, sessionId, "htmlfile", htmlScript, host.responseLimit, htmlfileHead(callback.name));
}

export function jsonpPoll(host: HttpTransportHost, req: IncomingMessage, res: ServerResponse, sessionId: string): void {
  const callback = callbackOf(req);
  if ("error" in callback) {
    plainError(res, 500, callback.error);
    return;
  }
  sessionHeaders(host, req, res);
  res.setHeader("Content-Type", "application/javascript; charset=UTF-8");
  res.setHeader("X-Content-Type-Options", "nosniff");
  const name = callback.name;
  // `/**/` keeps the response from ever starting with bytes a plugin would read as its own format.
  receive(host, req, res, sessionId, "jsonp-polling", (frame) => `/**/${name}(${scriptString(frame)});\r\n`, POLL);
}

/** Answers a request whose body is not read, and closes its socket: what is left of the body is never read. */
function refuse(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=UTF-8", Connection: "close" });
  res.end(text);
}

/** Reads a send body and hands its messages to the session; answers the errors the protocol names. */
async function deliverBody(
  host: HttpTransportHost,
  req: IncomingMessage,
  res: ServerResponse,
  sessionId: string,
  payloadOf: (body: string) => string,
): Promise<boolean> {
  if (!host.holdSlot(req, res)) {
    host.refused("busy_address", req);
    refuse(res, 429, "Too many requests from your address");
    return false;
  }
  let body: string;
  try {
    body = await readBody(req, host.maxMessageBytes, host.sendTimeoutMs);
  } catch (err) {
    if (err instanceof BodyTooLarge) {
      host.refused("body_too_large", req);
      refuse(res, 413, "Payload too large");
    } else if (err instanceof BodyTooSlow) {
      host.refused("body_too_slow", req);
      refuse(res, 408, "Request body too slow");
    } else {
      res.destroy();
    }
    return false;
  }
  const payload = payloadOf(body);
  if (payload === "") {
    plainError(res, 500, "Payload expected.");
    return false;
  }
  let messages: string[];
  try {
    messages = parseMessages(payload, "array-only");
  } catch (err) {
    if (!(err instanceof BrokenFraming)) throw err;
    plainError(res, 500, err.message);
    return false;
  }
  const session = host.existingSession(sessionId);
  if (!session) {
    plainError(res, 404, "Not found");
    return false;
  }
  session.deliver(messages);
  return true;
}

export async function xhrSend(
  host: HttpTransportHost,
  req: IncomingMessage,
  res: ServerResponse,
  sessionId: string,
): Promise<void> {
  cors(req, res);
  sessionHeaders(host, req, res);
  if (!(await deliverBody(host, req, res, sessionId, (body) => body))) return;
  // Some browsers take a 204 without a content type for XML and complain.
  res.writeHead(204, { "Content-Type": "text/plain; charset=UTF-8" }).end();
}

export async function jsonpSend(
  host: HttpTransportHost,
  req: IncomingMessage,
  res: ServerResponse,
  sessionId: string,
): Promise<void> {
  sessionHeaders(host, req, res);
  const form = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
  const payloadOf = (body: string) => (form ? (new URLSearchParams(body).get("d") ?? "") : body);
  if (!(await deliverBody(host, req, res, sessionId, payloadOf))) return;
  // Konqueror mishandles a 204 here: the protocol answers `ok`.
  res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8", "Content-Length": "2" }).end("ok");
}
