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
 * Which pages may use the SockJS endpoint: ALLOWED_ORIGINS, the whole list
 * (the chat's own origin included), or any page when it is unset.
 *
 * A browser says where a request comes from in `Origin`, else `Referer`;
 * where it withholds both (a page with `referrerpolicy="no-referrer"`
 * framing the iframe page, a script tag), `Sec-Fetch-Site` still tells a
 * cross-site request from a same-origin one, and a same-origin request is
 * from a page of whatever host it was sent to: that host must be allowed,
 * which also stops DNS rebinding. A request with none of these headers
 * comes from no browser (a native client) and no page can make it.
 */
export class OriginPolicy {
  private readonly origins: Set<string> | undefined;
  private readonly hosts: Set<string>;

  constructor(allowed: string[] | undefined) {
    this.origins = allowed ? new Set(allowed) : undefined;
    this.hosts = new Set((allowed ?? []).map((o) => new URL(o).host));
  }

  allows(req: IncomingMessage): boolean {
    if (!this.origins) return true;
    const origin = originOf(req.headers.origin) ?? originOf(req.headers.referer);
    if (origin !== undefined) return this.origins.has(origin);
    const site = req.headers["sec-fetch-site"];
    if (site === undefined || site === "none") return true;
    if (site === "same-origin") return this.hosts.has(req.headers.host ?? "");
    return false;
  }

  /** The CSP `frame-ancestors` that matches: where the iframe transports may be embedded. */
  get frameAncestors(): string {
    return this.origins ? ["'self'", ...this.origins].join(" ") : "*";
  }
}
