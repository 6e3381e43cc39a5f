import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import helmet from "helmet";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * The bundled web client, written by scripts/build-web.mjs to dist/public:
 * found from dist/http (npm start) and from src/http (npm run dev) alike.
 */
export const PUBLIC_DIR = path.resolve(here, "../../dist/public");
const SOCKJS_CLIENT_FILE = require.resolve("sockjs-client/dist/sockjs.min.js");
/** Where our own copy of sockjs-client is served; the iframe transports load it from here. */
export const SOCKJS_CLIENT_PATH = "/vendor/sockjs.min.js";

export interface Status {
  nodeId: string;
  /** False while the link to the other nodes (Redis) is down. */
  ready(): boolean;
  connections(): number;
  /** Redis with DATABASE_URL: how far the archive trails. It does not make a node unready: the chat goes on without it. */
  archive?(): { behind: number; up: boolean } | undefined;
}

/** `connectFrom`: origins besides our own the page may fetch from (the embedding app's AUTH_TOKEN_URL). */
export function createHttpApp(status: Status, connectFrom: string[] = []): Express {
  const app = express();
  app.disable("x-powered-by");
  // Only our own routes pass through here: the SockJS server answers /sock
  // before express sees it, with the headers its protocol prescribes.
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          "default-src": ["'self'"],
          "connect-src": ["'self'", ...connectFrom],
          "frame-src": ["'self'"],
          "img-src": ["'self'", "data:"],
        },
      },
    }),
  );

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", node: status.nodeId, connections: status.connections() });
  });
  app.get("/readyz", (_req, res) => {
    const ready = status.ready();
    const archive = status.archive?.();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", node: status.nodeId, archive });
  });

  app.get(SOCKJS_CLIENT_PATH, (_req, res) => {
    // Pages on other sites that embed the chat may load the client from here.
    res.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
    res.sendFile(SOCKJS_CLIENT_FILE, { maxAge: "1d" });
  });
  // Bundles carry a content hash in their names, so they may be cached for good;
  // the page that names them must be revalidated every time.
  app.use(
    "/assets",
    express.static(path.join(PUBLIC_DIR, "assets"), { immutable: true, maxAge: "1y", fallthrough: false }),
  );
  app.get("/", (_req, res) => {
    res.sendFile(path.join(PUBLIC_DIR, "index.html"), { headers: { "Cache-Control": "no-cache" } });
  });
  return app;
}

/** Last in the chain: a plain status line, never a stack trace. */
export function finishHttpApp(app: Express): void {
  app.use((_req: Request, res: Response) => {
    res.status(404).type("text/plain").send("Not found");
  });
  app.use((err: { status?: number; statusCode?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const code = err.status ?? err.statusCode ?? 500;
    res
      .status(code)
      .type("text/plain")
      .send(code === 404 ? "Not found" : code < 500 ? "Bad request" : "Server error");
  });
}
