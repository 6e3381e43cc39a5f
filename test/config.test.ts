import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { joinRoom, say } from "./support/chat.js";
import { runToExit } from "./support/processes.js";
import { perTest } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perTest();

describe("configuration", () => {
  it("PORT=0 listens on a free port and says which", async () => {
    const n = await scope.node({ PORT: "0" });
    expect(n.port).toBeGreaterThan(0);
    expect((await fetch(`${n.url}/healthz`)).status).toBe(200);
  });

  it("NODE_ID names the node in /healthz, in connection ids and in its log", async () => {
    const n = await scope.node({ NODE_ID: "node-seven" });
    expect(await (await fetch(`${n.url}/healthz`)).json()).toMatchObject({ node: "node-seven" });
    const u = await scope.user(n);
    expect(u.id).toMatch(/^node-seven\./);
    expect(n.output()).toContain('"node":"node-seven"');
  });

  it("refuses two Redis modes at once with one line", async () => {
    const r = await runToExit({ REDIS_URL: "redis://127.0.0.1:1", REDIS_SENTINELS: "127.0.0.1:2" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      "configuration error: set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS",
    ]);
  });

  it("LOG_LEVEL=warn leaves out what info would log", async () => {
    const quiet = await scope.node({ LOG_LEVEL: "warn" });
    const chatty = await scope.node({ LOG_LEVEL: "info" });
    for (const n of [quiet, chatty]) await scope.user(n);
    await chatty.waitForOutput(/connection opened/);
    // The quiet node's own start-up line is info too: it says nothing at all until something goes wrong.
    expect(quiet.output()).not.toMatch(/connection opened|"level":30/);
  });

  it("REDIS_PREFIX keeps two chats on one Redis apart", async () => {
    const redis = await scope.redis();
    const one = await scope.node({ REDIS_URL: redis.url, REDIS_PREFIX: "one" });
    const two = await scope.node({ REDIS_URL: redis.url, REDIS_PREFIX: "two" });
    const [a, b] = [await scope.user(one), await scope.user(two)];
    const mid = await say(a, "only for chat one");
    expect(mid).toBe(1);
    // The other chat's lobby has its own numbering, and never heard the first one's message.
    const other = await say(b, "only for chat two");
    expect(other).toBe(1);
    await b.client.action("message", (f) => f.mid === other);
    const list = await joinRoom(b, "lobby");
    expect((list.users as { id: string }[]).map((u) => u.id)).toEqual([b.id]);
    expect(b.client.all("message").map((f) => f.message)).toEqual(["only for chat two"]);
    const inspect = new Redis(redis.url);
    scope.defer(() => inspect.disconnect());
    const keys = await inspect.keys("*");
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key, key).toMatch(/^(one|two):/);
  });

  it("HISTORY_MAX_AGE leaves older messages out of history", async () => {
    const n = await scope.node({ HISTORY_MAX_AGE: "1" });
    const a = await scope.user(n);
    const history = async () => {
      const ref = `h-${Math.random()}`;
      await a.client.send({ action: "history", ref });
      const page = await a.client.action("history", (f) => f.ref === ref);
      return (page.messages as Frame[]).map((m) => m.message);
    };
    await say(a, "old news");
    expect(await history()).toEqual(["old news"]);
    // A second on, it has aged out; what is said now is still there.
    await expect.poll(history, { timeout: 5000, interval: 250 }).toEqual([]);
    await say(a, "fresh");
    expect(await history()).toEqual(["fresh"]);
  });

  it("exits on SIGINT as on SIGTERM: clients told to reconnect, exit 0", async () => {
    const n = await scope.node({});
    const u = await scope.user(n);
    const exited = new Promise<number | null>((r) => n.child.once("exit", (code) => r(code)));
    n.child.kill("SIGINT");
    expect(await u.client.waitClosed()).toEqual({ code: 4000, reason: "Server shutting down" });
    expect(await exited).toBe(0);
    await n.waitForOutput(/"signal":"SIGINT"/);
  });

  it("SHUTDOWN_TIMEOUT ends a shutdown that cannot finish, with exit 1", async () => {
    const redis = await scope.redis();
    const timeoutMs = 1500;
    const n = await scope.node({ REDIS_URL: redis.url, SHUTDOWN_TIMEOUT: String(timeoutMs) });
    await scope.user(n);
    // A Redis that still holds its connections but answers nothing: the departures can be neither sent nor failed.
    const probe = new Redis(redis.url);
    const redisPid = Number((await probe.info("server")).match(/process_id:(\d+)/)?.[1]);
    probe.disconnect();
    process.kill(redisPid, "SIGSTOP");
    scope.defer(() => process.kill(redisPid, "SIGCONT"));
    const started = Date.now();
    const exited = new Promise<number | null>((r) => n.child.once("exit", (code) => r(code)));
    n.child.kill("SIGTERM");
    expect(await exited).toBe(1);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(timeoutMs);
    expect(took).toBeLessThan(timeoutMs + 3000);
    await n.waitForOutput(/shutdown timed out/);
  });
});
