import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Compiles a peer server (`socketio-server`, `ws-floor`) to plain JavaScript,
 * so that it runs on bare `node` like our dist/server.js: a TypeScript loader
 * in the process would add its own memory and start-up work to its figures.
 * The bundle stays inside the repo so that its bare imports resolve from its
 * node_modules.
 */
export async function buildPeer(name: "socketio-server" | "ws-floor"): Promise<string> {
  const outfile = path.join(here, `../.build/${name}.mjs`);
  await build({
    entryPoints: [path.join(here, `${name}.ts`)],
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
