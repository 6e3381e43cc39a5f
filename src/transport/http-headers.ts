import type { IncomingMessage, ServerResponse } from "node:http";

/** Exactly what the SockJS protocol asks for on every transport response (iOS 6 caches even POSTs). */
const NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0";
const YEAR_SECONDS = 31_536_000;

// What Node accepts in a header value; anything echoed from a request is checked first.
const SAFE_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const COOKIE_VALUE = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,128}$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text !== undefined && text !== "" && SAFE_VALUE.test(text) ? text : undefined;
}

export function noCache(res: ServerResponse): void {
  res.setHeader("Cache-Control", NO_CACHE);
}

export function longCache(res: ServerResponse): void {
  res.setHeader("Cache-Control", `public, max-age=${YEAR_SECONDS}`);
  res.setHeader("Expires", new Date(Date.now() + YEAR_SECONDS * 1000).toUTCString());
}

/**
 * SockJS's CORS: the page's origin (or `*` for none) with credentials, so
 * that a JSESSIONID cookie can flow; requested headers are allowed back.
 * Which origins may connect at all is decided before this, by the origin policy.
 */
export function cors(req: IncomingMessage, res: ServerResponse): void {
  const origin = header(req, "origin");
  if (origin !== undefined) {
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Access-Control-Allow-Credentials", "true");
  } else {
    res.setHeader("Access-Control-Allow-Origin", "*");
  }
  res.setHeader("Vary", "Origin");
  const requested = header(req, "access-control-request-headers");
  if (requested !== undefined) res.setHeader("Access-Control-Allow-Headers", requested);
}

/** The answer to a CORS preflight: cacheable for a year. */
export function preflight(req: IncomingMessage, res: ServerResponse, methods: string): void {
  cors(req, res);
  longCache(res);
  res.setHeader("Access-Control-Allow-Methods", methods);
  res.setHeader("Access-Control-Max-Age", String(YEAR_SECONDS));
  res.writeHead(204).end();
}

/** The sticky-session cookie some load balancers need: the client's own JSESSIONID, or `dummy`. */
export function sessionCookie(req: IncomingMessage, res: ServerResponse): void {
  let value = "dummy";
  for (const part of (header(req, "cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === "JSESSIONID") {
      const v = part.slice(eq + 1).trim();
      if (COOKIE_VALUE.test(v)) value = v;
    }
  }
  res.setHeader("Set-Cookie", `JSESSIONID=${value}; path=/`);
}

/** A plain-text error, as SockJS clients expect them (a 500 with a sentence). */
export function plainError(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { "Content-Type": "text/plain; charset=UTF-8" }).end(text);
}

export function notFound(res: ServerResponse): void {
  plainError(res, 404, "Not found");
}

/** 405 with an Allow header and, as the protocol wants, no body and no content type. */
export function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.writeHead(405, { Allow: allow, "Content-Length": "0" }).end();
}

/** For a header value built from a request, such as the URL in draft-76's location. */
export function isSafeHeaderValue(value: string): boolean {
  return SAFE_VALUE.test(value);
}
