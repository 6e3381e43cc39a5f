import { createHash, randomInt } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { cors, longCache, noCache } from "./http-headers.js";

/** The greeting at the prefix itself. */
export function greeting(res: ServerResponse): void {
  res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8", "Content-Length": "19" });
  res.end("Welcome to SockJS!\n");
}

/** What a client asks before it picks a transport (and how it measures the round trip). */
export function info(req: IncomingMessage, res: ServerResponse, websocket: boolean, cookieNeeded: boolean): void {
  cors(req, res);
  noCache(res);
  const body = JSON.stringify({
    websocket,
    origins: ["*:*"],
    cookie_needed: cookieNeeded,
    entropy: randomInt(0, 2 ** 32 - 1),
  });
  res.writeHead(200, { "Content-Type": "application/json; charset=UTF-8" }).end(body);
}

const escapeAttribute = (text: string) =>
  text.replace(/[&"<>]/g, (c) => ({ "&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;" })[c] as string);

const BOOTSTRAP = "\n    document.domain = document.domain;\n    SockJS.bootstrap_iframe();\n  ";

/**
 * The page sockjs-client loads in a hidden iframe on the server's origin
 * for the transports that cannot go cross-origin. Its text is fixed by the
 * protocol; only the script URL varies.
 */
export class IframePage {
  private readonly body: string;
  private readonly etag: string;
  private readonly policy: string;

  constructor(sockjsUrl: string, frameAncestors: string) {
    this.body = [
      "<!DOCTYPE html>",
      "<html>",
      "<head>",
      '  <meta http-equiv="X-UA-Compatible" content="IE=edge" />',
      '  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />',
      `  <script src="${escapeAttribute(sockjsUrl)}"></script>`,
      `  <script>${BOOTSTRAP}</script>`,
      "</head>",
      "<body>",
      "  <h2>Don't panic!</h2>",
      "  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>",
      "</body>",
      "</html>",
    ].join("\n");
    this.etag = `"${createHash("md5").update(this.body).digest("hex")}"`;
    const scriptOrigin = /^https?:\/\//.test(sockjsUrl) ? new URL(sockjsUrl).origin : "'self'";
    const bootstrapHash = createHash("sha256").update(BOOTSTRAP).digest("base64");
    // The page loads the client, runs one known inline script, and talks to its own origin.
    this.policy =
      `default-src 'none'; script-src ${scriptOrigin} 'sha256-${bootstrapHash}'; ` +
      `connect-src 'self'; frame-src 'self'; frame-ancestors ${frameAncestors}`;
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    if (req.headers["if-none-match"] === this.etag) {
      res.writeHead(304).end();
      return;
    }
    longCache(res);
    res.writeHead(200, {
      "Content-Type": "text/html; charset=UTF-8",
      ETag: this.etag,
      "Content-Security-Policy": this.policy,
      "X-Content-Type-Options": "nosniff",
    });
    res.end(this.body);
  }
}
