import type { IncomingMessage } from "node:http";

/** The client's address: the socket's, or X-Forwarded-For's first hop behind a trusted proxy. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const header = req.headers["x-forwarded-for"];
  const forwarded = trustProxy && typeof header === "string" ? header.split(",")[0]?.trim() : undefined;
  return forwarded || req.socket.remoteAddress || "unknown";
}
