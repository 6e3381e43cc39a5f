import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { expect, it } from "vitest";

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");
const MiB = 2 ** 20;

/**
 * Runs `body` in a node of its own, started with Node's defaults (no
 * `--expose-gc`, no semi-space size), with the server's heap modules
 * imported, and returns the lines it printed.
 */
function heapProcess(body: string, timeoutMs = 40_000): Promise<string[]> {
  const script = `
    import { startYoungGeneration, youngGenerationBytes, collectorFunction } from ${JSON.stringify(pathToFileURL(path.join(dist, "young-generation.js")).href)};
    import { startQuietCollector } from ${JSON.stringify(pathToFileURL(path.join(dist, "quiet-collector.js")).href)};
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    // A burst that keeps a fifth of what it allocates for a while, as joins do: what grows the young generation.
    async function burst(ms) {
      let kept = [];
      for (const end = Date.now() + ms; Date.now() < end; ) {
        for (let i = 0; i < 20000; i++) { const o = { a: new Array(20).fill(i) }; if (i % 5 === 0) kept.push(o); }
        if (kept.length > 60000) kept = kept.slice(30000);
        await new Promise((r) => setImmediate(r));
      }
    }
    ${body}
    process.exit(0);
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, NODE_OPTIONS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim().split("\n"));
      else reject(new Error(`exit ${code}: ${out}`));
    });
  });
}

const numbers = (lines: string[]) => lines.map(Number);

it.concurrent("keeps the young generation at its start while collecting it costs little, and lets it grow when it costs more", async () => {
  const [capped, grown, growingSeconds] = numbers(
    await heapProcess(`
      let young = startYoungGeneration(100);
      await burst(1500);
      console.log(youngGenerationBytes());
      young.stop();
      young = startYoungGeneration(1);
      await sleep(1100);
      // Two seconds in a row over the share, then V8 may grow it.
      await burst(4000);
      console.log(youngGenerationBytes());
      console.log(young.growingSeconds);
    `),
  );
  // No share of the time can be over 100 %: V8 never grew it, whatever the burst.
  expect(capped).toBeLessThanOrEqual(2 * MiB);
  expect(growingSeconds).toBeGreaterThanOrEqual(1);
  expect(grown).toBeGreaterThan(4 * MiB);
});

it.concurrent("gives a grown young generation back once the process is quiet, without --expose-gc", async () => {
  const lines = await heapProcess(
    `
    startYoungGeneration(0);
    const collector = startQuietCollector(MiB_GROWTH, collectorFunction());
    await burst(2000);
    console.log(youngGenerationBytes());
    const until = Date.now() + 30000;
    while (youngGenerationBytes() > 2 * 2 ** 20 && Date.now() < until) await sleep(500);
    console.log(youngGenerationBytes());
    console.log(collector.scavenges);
  `.replace("MiB_GROWTH", String(MiB)),
  );
  const [grown, after, scavenges] = numbers(lines);
  expect(grown).toBeGreaterThan(4 * MiB);
  expect(after).toBeLessThanOrEqual(2 * MiB);
  expect(scavenges).toBeGreaterThanOrEqual(1);
});
