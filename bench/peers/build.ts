import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Inside the repo so that the bundle's bare imports resolve from its node_modules. */
const outfile = path.join(here, "../.build/socketio-server.mjs");

/**
 * Compiles the Socket.IO peer to plain JavaScript, so that it runs on bare
 * `node` like our dist/server.js: a TypeScript loader in the process would
 * add its own memory and start-up work to the peer's figures.
 */
export async function buildPeer(): Promise<string> {
  await build({
    entryPoints: [path.join(here, "socketio-server.ts")],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  return outfile;
}
