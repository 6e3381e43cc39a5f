import type { IncomingMessage } from "node:http";

export class BodyTooLarge extends Error {}
export class BodyTooSlow extends Error {}

/**
 * Reads a request body as UTF-8, refusing more than `max` bytes: a declared
 * length over it is refused before a byte is read, and a body that grows past
 * it while streaming is cut off. A body not complete within `timeoutMs` is
 * refused too: a client sends a few kilobytes at once, and one that trickles
 * them only holds a socket.
 */
export function readBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.removeAllListeners("data");
      reject(new BodyTooSlow());
    }, timeoutMs);
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        clearTimeout(timer);
        req.removeAllListeners("data");
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on("aborted", () => {
      clearTimeout(timer);
      reject(new Error("request aborted"));
    });
  });
}
