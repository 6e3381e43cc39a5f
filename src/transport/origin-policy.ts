import type { IncomingMessage } from "node:http";

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

/** The CSP `frame-ancestors` that matches the policy: where the iframe transports may be embedded. */
export function frameAncestors(allowed: string[] | undefined): string {
  return allowed ? ["'self'", ...allowed].join(" ") : "*";
}
