import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type NodeProcess, SERVER_ENTRY, startNode } from "./support/processes.js";

let node: NodeProcess;

beforeAll(async () => {
  node = await startNode();
});
afterAll(() => node.stop());

it("serves the web client at /", async () => {
  const res = await fetch(`${node.url}/`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/html");
  expect(res.headers.get("cache-control")).toBe("no-cache");
  const html = await res.text();
  expect(html).toContain("<title>redis-sockjs-chat</title>");
  const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
  expect(script).toBeDefined();
  const asset = await fetch(`${node.url}${script}`);
  expect(asset.status).toBe(200);
  expect(asset.headers.get("cache-control")).toContain("immutable");
});

it("serves its own copy of sockjs-client and points the iframe transports at it", async () => {
  const js = await fetch(`${node.url}/vendor/sockjs.min.js`);
  expect(js.status).toBe(200);
  expect(await js.text()).toContain("SockJS");
  const iframe = await (await fetch(`${node.url}/sock/iframe.html`)).text();
  expect(iframe).toContain('src="/vendor/sockjs.min.js"');
});

it("answers health and readiness", async () => {
  const health = await fetch(`${node.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", node: node.nodeId });
  const ready = await fetch(`${node.url}/readyz`);
  expect(ready.status).toBe(200);
});

it("answers an unknown path with a plain 404 and no internals", async () => {
  const res = await fetch(`${node.url}/assets/nothing-here.js`);
  expect(res.status).toBe(404);
  expect(await res.text()).toBe("Not found");
});

it("references no outside host in any file it serves", () => {
  const publicDir = path.join(path.dirname(SERVER_ENTRY), "public");
  const files = readdirSync(publicDir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && !d.name.endsWith(".map"))
    .map((d) => path.join(d.parentPath, d.name));
  files.push(path.join(path.dirname(SERVER_ENTRY), "../node_modules/sockjs-client/dist/sockjs.min.js"));
  expect(files.length).toBeGreaterThan(2);
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    // A URL that loads something: in src/href attributes, url(), or import/fetch of an absolute URL.
    const loads =
      text.match(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\/[^"'\s>]+|url\(\s*["']?(?:https?:)?\/\/[^)]+\)/gi) ?? [];
    expect({ file, loads }).toEqual({ file, loads: [] });
  }
});
