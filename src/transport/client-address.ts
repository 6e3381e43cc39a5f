import type { IncomingMessage } from "node:http";

/**
 * The client's address. Behind `trustedProxies` proxies that each append
 * the address they saw to X-Forwarded-For, the client is the entry that
 * many from the right: whatever stands further left was written by the
 * client itself and proves nothing. Without trusted proxies, the socket's.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: number): string {
  const socket = req.socket.remoteAddress || "unknown";
  if (trustedProxies === 0) return socket;
  const header = req.headers["x-forwarded-for"];
  if (typeof header !== "string") return socket;
  const hops = header.split(",").map((h) => h.trim());
  const seen = hops[hops.length - trustedProxies];
  // Fewer hops than proxies: the header did not come through all of them.
  return seen && hops.length >= trustedProxies ? seen : socket;
}
