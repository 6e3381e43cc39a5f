// Bundles the web client into dist/public: hashed assets, and an index.html that names them.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist/public");

await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: { app: path.join(root, "web/src/main.ts"), style: path.join(root, "web/src/style.css") },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  outdir: path.join(out, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  // sockjs-client reads Node's `global`, which browsers call globalThis.
  define: { global: "globalThis" },
});

const names = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint) names[path.extname(file)] = `/assets/${path.basename(file)}`;
}
const page = (await readFile(path.join(root, "web/index.html"), "utf8"))
  .replace("%STYLE%", names[".css"])
  .replace("%SCRIPT%", names[".js"]);
await writeFile(path.join(out, "index.html"), page);
