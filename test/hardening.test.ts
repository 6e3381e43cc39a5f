import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { connectUser, joinRoom, say } from "./support/chat.js";
import { rawRequest } from "./support/raw-http.js";
import type { RedisProcess } from "./support/redis-servers.js";
import { perTest } from "./support/scope.js";
import { SockClient } from "./support/sockjs-client.js";

const scope = perTest();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("limits", () => {
  it("refuses requests over the rate with 'rate_limited', and closes a connection that keeps flooding", async () => {
    const n = await scope.node({ RATE_LIMIT: "5", RATE_BURST: "5", FLOOD_CLOSE_AFTER: "10" });
    const calm = await scope.user(n);
    // Only the automatic lobby join, which is the server's own and takes no token.
    const flooder = await connectUser(n.url);
    scope.defer(() => flooder.client.close());
    for (let i = 0; i < 8; i++) await flooder.client.send({ action: "message", message: `burst ${i}`, ref: i });
    for (let i = 0; i < 8; i++)
      await flooder.client.next((f) => f.ref === i && (f.action === "ack" || f.action === "error"));
    const acks = flooder.client.all("ack").map((f) => f.ref);
    const limited = flooder.client
      .all("error")
      .filter((f) => f.code === "rate_limited")
      .map((f) => f.ref);
    expect(acks).toEqual([0, 1, 2, 3, 4]);
    expect(limited).toEqual([5, 6, 7]);
    await calm.client.action("message", (f) => f.message === "burst 4");
    expect(calm.client.all("message").map((f) => f.message)).toEqual([
      "burst 0",
      "burst 1",
      "burst 2",
      "burst 3",
      "burst 4",
    ]);

    await sleep(1100);
    expect(await say(flooder, "after a pause")).toBeGreaterThan(0);
    for (let i = 0; i < 30; i++) void flooder.client.send({ action: "typing" });
    const closed = await flooder.client.waitClosed();
    expect(closed).toEqual({ code: 4002, reason: "Flooding" });
    // The others did not notice.
    expect(await say(calm, "still fine")).toBeGreaterThan(0);
    // One line when the flooding starts, one when the connection is closed for it: not one per refused frame.
    await n.waitForOutput(new RegExp(`${flooder.id}.*closing a flooding connection`));
    const lines = n
      .output()
      .split("\n")
      .filter((l) => l.includes('"rate_limited"') && l.includes(flooder.id))
      .map((l) => JSON.parse(l).msg);
    expect(lines).toEqual(["request refused", "closing a flooding connection"]);
  });

  it("caps the rooms one connection may be in", async () => {
    const n = await scope.node({ MAX_ROOMS_PER_CONNECTION: "3" });
    const u = await scope.user(n);
    await joinRoom(u, "two");
    await joinRoom(u, "three");
    await u.client.send({ action: "join", room: "four", ref: "4" });
    expect(await u.client.action("error", (f) => f.ref === "4")).toMatchObject({ code: "too_many_rooms" });
    await u.client.send({ action: "leave", room: "two", ref: "l" });
    await u.client.action("left", (f) => f.ref === "l");
    await joinRoom(u, "four");
  });

  it("caps the connections from one address", async () => {
    const n = await scope.node({ MAX_CONNECTIONS_PER_IP: "3" });
    const first = await scope.user(n);
    await scope.user(n);
    await scope.user(n);
    const refused = await SockClient.connect(n.url);
    scope.defer(() => refused.close());
    expect(await refused.action("error")).toMatchObject({ code: "too_many_connections" });
    expect(await refused.waitClosed()).toEqual({ code: 4004, reason: "Too many connections" });
    first.client.close();
    // Its slot is free once the server has seen it go.
    await n.waitForOutput(new RegExp(`${first.id}.*connection closed`));
    await scope.user(n);
  });

  it("closes a websocket whose frame is over MAX_FRAME_BYTES, and refuses such an HTTP body", async () => {
    const n = await scope.node({ MAX_FRAME_BYTES: "4096" });
    const big = await scope.user(n);
    const other = await scope.user(n);
    await big.client.send({ action: "message", message: "y".repeat(5000) });
    const closed = await big.client.waitClosed();
    expect(closed.code).toBe(1009);
    const res = await fetch(`${n.url}/sock/000/bigbody/xhr_send`, { method: "POST", body: "x".repeat(5000) });
    expect(res.status).toBe(413);
    expect(await say(other, "unharmed")).toBeGreaterThan(0);
  });
});

describe("slow consumers", () => {
  it("closes a websocket client that stops reading, with code 4003, and nobody else slows down", async () => {
    // A sender must outwrite a reader here: the write budgets, which would stop it first, are another test's.
    const n = await scope.node({
      MAX_PENDING_BYTES: "262144",
      RATE_LIMIT: "0",
      WRITE_BYTES_PER_USER: "0",
      WRITE_BYTES_PER_IP: "0",
    });
    const url = `${n.url.replace("http", "ws")}/sock/000/slowpoke/websocket`;
    const slow = new WebSocket(url);
    const seen: string[] = [];
    slow.on("message", (d) => seen.push(String(d)));
    scope.defer(() => slow.terminate());
    await new Promise((r) => slow.once("open", r));
    await expect.poll(() => seen.some((f) => f.includes("user_info"))).toBe(true);
    // Stop reading: the kernel buffers fill, then the server's.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();

    const sender = await scope.user(n);
    const reader = await scope.user(n);
    const text = "z".repeat(3500);
    let sent = 0;
    while (!n.output().includes("closing a slow consumer") && sent < 30000) {
      const batch = Array.from({ length: 200 }, () => sender.client.send({ action: "message", message: text }));
      await Promise.all(batch);
      sent += 200;
      // Healthy readers keep up, so only the paused one falls behind.
      await expect.poll(() => reader.client.all("message").length, { timeout: 10_000 }).toBe(sent);
    }
    expect(n.output()).toContain("closing a slow consumer");
    const last = await say(sender, "after the slow one");
    await reader.client.action("message", (f) => f.mid === last, 20000);
    expect(reader.client.all("message").length).toBe(sent + 1);

    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    const closeFrame = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no close frame")), 20000);
      const check = () => {
        const c = seen.find((f) => f.startsWith("c["));
        if (c) {
          clearTimeout(timer);
          resolve(c);
        } else setTimeout(check, 50);
      };
      check();
    });
    expect(closeFrame).toBe('c[4003,"Slow consumer: too much unsent data"]');
    const metrics = await n.metrics();
    expect(metrics).toMatch(/chat_errors_total\{code="slow_consumer"\} 1/);
  }, 60000);
});

describe("slow consumers over HTTP", () => {
  it("closes an xhr-streaming client that stops reading, with code 4003, by the same limit", async () => {
    // A sender must outwrite a reader here: the write budgets, which would stop it first, are another test's.
    const n = await scope.node({
      MAX_PENDING_BYTES: "262144",
      RATE_LIMIT: "0",
      WRITE_BYTES_PER_USER: "0",
      WRITE_BYTES_PER_IP: "0",
    });
    const stream = await rawRequest(`${n.url}/sock/000/slowstream/xhr_streaming`, "POST");
    scope.defer(() => stream.destroy());
    await stream.chunk();
    expect(await stream.chunk()).toBe("o\n");
    stream.pause();
    const sender = await scope.user(n);
    const text = "z".repeat(3500);
    for (let sent = 0; !n.output().includes("closing a slow consumer"); sent += 200) {
      expect(sent, "the slow consumer was never closed").toBeLessThan(20_000);
      await Promise.all(Array.from({ length: 200 }, () => sender.client.send({ action: "message", message: text })));
      await say(sender, "paced");
    }
    stream.resume();
    await stream.rest(10_000);
    // The stream it had ended at its response limit; the next one is told why the session is over.
    const next = await rawRequest(`${n.url}/sock/000/slowstream/xhr_streaming`, "POST");
    scope.defer(() => next.destroy());
    await next.chunk();
    expect(await next.rest()).toEqual(['c[4003,"Slow consumer: too much unsent data"]\n']);
  }, 60_000);
});

describe("origins and headers", () => {
  const good = "https://good.example";
  const evil = "https://evil.example";

  it("lets only allowed origins in, on every transport including the websocket upgrade", async () => {
    const n = await scope.node({ ALLOWED_ORIGINS: `${good},http://other.example:8080` });
    const ws = (origin: string) =>
      new Promise<string>((resolve) => {
        const s = new WebSocket(
          `${n.url.replace("http", "ws")}/sock/000/o${Math.random().toString(36).slice(2)}/websocket`,
          { origin },
        );
        s.on("message", (d) => {
          resolve(String(d));
          s.close();
        });
        s.on("error", (e) => resolve(e.message));
      });
    expect(await ws(good)).toBe("o");
    expect(await ws(evil)).toMatch(/403/);

    const xhr = (headers: Record<string, string>) =>
      fetch(`${n.url}/sock/000/x${Math.random().toString(36).slice(2)}/xhr`, { method: "POST", headers });
    expect((await xhr({ Origin: evil })).status).toBe(403);
    const allowed = await xhr({ Origin: good });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe("o\n");
    // The server's own origin is no exception: it must be in the list like any other.
    expect((await xhr({ Origin: n.url })).status).toBe(403);
    // No Origin, no Referer, no Sec-Fetch-Site: no browser, so no page, is involved.
    expect((await xhr({})).status).toBe(200);
    expect((await fetch(`${n.url}/sock/info`, { headers: { Origin: evil } })).status).toBe(403);
    expect((await fetch(`${n.url}/sock/iframe.html`, { headers: { Referer: `${evil}/page` } })).status).toBe(403);
    expect((await fetch(`${n.url}/sock/iframe.html`, { headers: { Referer: `${good}/page` } })).status).toBe(200);
  });

  it("puts security headers on its own routes, and the SockJS endpoint's own on its responses", async () => {
    const n = await scope.node({});
    const page = await fetch(`${n.url}/`);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(page.headers.get("x-powered-by")).toBeNull();

    const info = await fetch(`${n.url}/sock/info`, { headers: { Origin: "https://embedder.example" } });
    expect(info.status).toBe(200);
    expect(info.headers.get("access-control-allow-origin")).toBe("https://embedder.example");
    expect(info.headers.get("access-control-allow-credentials")).toBe("true");
    expect(info.headers.get("cache-control")).toBe("no-store, no-cache, no-transform, must-revalidate, max-age=0");
    for (const h of [
      "content-security-policy",
      "x-content-type-options",
      "x-frame-options",
      "strict-transport-security",
    ]) {
      expect(info.headers.get(h), h).toBeNull();
    }
    // The iframe page is meant to be framed by pages of the allowed origins (here: any), under its own policy.
    const iframe = await fetch(`${n.url}/sock/iframe.html`);
    expect(iframe.headers.get("x-frame-options")).toBeNull();
    expect(iframe.headers.get("cache-control")).toMatch(/public, max-age=/);
    expect(iframe.headers.get("content-security-policy")).toMatch(/^default-src 'none'; .*frame-ancestors \*$/);
    expect(iframe.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("authentication", () => {
  const secret = "a-test-secret-that-is-long-enough-0123456789";
  const sign = (claims: Record<string, unknown>, key = secret) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(key));

  it("refuses connections without a valid token, and names users from theirs", async () => {
    const n = await scope.node({ AUTH_SECRET: secret });
    for (const query of [
      undefined,
      "token=not-a-jwt",
      `token=${await sign({ sub: "u1", name: "Ada" }, "another-secret-another-secret-0123456")}`,
    ]) {
      const c = await SockClient.connect(n.url, { query });
      scope.defer(() => c.close());
      const err = await c.action("error");
      expect(err.code).toBe("unauthorized");
      expect(await c.waitClosed()).toEqual({ code: 4001, reason: "Unauthorized" });
      expect(c.all("user_info")).toEqual([]);
    }
    const ada = await scope.user(n, `token=${await sign({ sub: "u-ada", name: "Ada" })}`);
    expect(ada.name).toBe("Ada");
    expect(ada.client.frames[0]).toMatchObject({ action: "user_info", uid: "u-ada", name: "Ada" });
    await ada.client.send({ action: "nick", name: "Mallory", ref: "n" });
    expect(await ada.client.action("error", (f) => f.ref === "n")).toMatchObject({ code: "forbidden" });
    await ada.client.send({ action: "join", room: "lobby", ref: "j" });
    await ada.client.action("users", (f) => f.ref === "j");
    expect(await say(ada, "signed in")).toBeGreaterThan(0);
  });
});

describe("operations", () => {
  let redis: RedisProcess;

  it("shuts down on SIGTERM during traffic: clients told to reconnect, departures announced, exit 0 in time", async () => {
    redis = await scope.redis();
    const timeoutMs = 8000;
    const graceMs = 2000;
    const env = {
      REDIS_URL: redis.url,
      SHUTDOWN_TIMEOUT: String(timeoutMs),
      // Traffic as fast as the nodes answer: what one user may write is storage.test.ts's subject.
      RATE_LIMIT: "0",
      WRITE_BYTES_PER_USER: "0",
      WRITE_BYTES_PER_IP: "0",
      PRESENCE_GRACE: String(graceMs / 1000),
    };
    const a = await scope.node(env);
    const b = await scope.node(env);
    // Users who can come back (proto=2 guests): the grace period is theirs.
    const leaving = await Promise.all([0, 1, 2].map(() => scope.user(a, "proto=2")));
    // And one who cannot: a guest of the original protocol.
    const once = await scope.user(a);
    const staying = await scope.user(b);
    let sending = true;
    let delivered = 0;
    const traffic = (async () => {
      while (sending) {
        await say(staying, "traffic");
        delivered++;
      }
    })();
    // The shutdown must fall in the middle of traffic that is flowing.
    await expect.poll(() => delivered).toBeGreaterThan(5);
    const before = delivered;
    const started = Date.now();
    const exited = new Promise<number | null>((r) => a.child.once("exit", (code) => r(code)));
    a.child.kill("SIGTERM");
    for (const u of leaving)
      expect(await u.client.waitClosed(timeoutMs)).toEqual({ code: 4000, reason: "Server shutting down" });
    // Exit 0 means the shutdown finished before its deadline forced an exit 1; within half of it, with room to spare.
    expect(await exited).toBe(0);
    const took = Date.now() - started;
    expect(took).toBeLessThan(timeoutMs / 2);
    // Announced by the other node once the grace period is over: clients that came back in time would not be.
    for (const u of leaving) await staying.client.action("user_left", (f) => f.id === u.id, graceMs + 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(graceMs);
    // The original protocol's guest was announced first, without waiting out the grace.
    const departures = staying.client.all("user_left").map((f) => f.id);
    expect(departures[0]).toBe(once.id);
    expect([...departures].sort()).toEqual([once.id, ...leaving.map((u) => u.id)].sort());
    // The other node's traffic went on throughout, without a refusal.
    await expect.poll(() => delivered).toBeGreaterThan(before + 5);
    sending = false;
    await traffic;
    await a.waitForOutput(/shut down cleanly/);
    console.log(`SIGTERM to exit during traffic: ${took} ms`);
  });

  it("shuts down cleanly with a client that stopped reading and Redis gone", async () => {
    const timeoutMs = 8000;
    redis = await scope.redis();
    const n = await scope.node({ REDIS_URL: redis.url, SHUTDOWN_TIMEOUT: String(timeoutMs) });
    const silent = new WebSocket(`${n.url.replace("http", "ws")}/sock/000/silent/websocket`);
    scope.defer(() => silent.terminate());
    await new Promise((r) => silent.once("open", r));
    (silent as unknown as { _socket: { pause(): void } })._socket.pause();
    await redis.stop();
    await n.waitForOutput(/lost the connection to Redis/);
    const started = Date.now();
    const exited = new Promise<number | null>((r) => n.child.once("exit", (code) => r(code)));
    n.child.kill("SIGTERM");
    // Exit 0 means it beat the deadline (which exits 1); within half of it, with room to spare.
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(timeoutMs / 2);
    await n.waitForOutput(/shut down cleanly/);
  });

  it("logs at warn what the other nodes could not be told while Redis is away, and still answers the request", async () => {
    redis = await scope.redis();
    const n = await scope.node({ REDIS_URL: redis.url });
    const guest = await scope.user(n, "proto=2&lobby=0");
    await redis.stop();
    await n.waitForOutput(/lost the connection to Redis/);
    await guest.client.send({ action: "nick", name: "Offline Olga", ref: "rename" });
    expect(await guest.client.action("user_renamed")).toMatchObject({ name: "Offline Olga", uid: guest.uid });
    expect(await guest.client.action("ack", (f) => f.ref === "rename")).toMatchObject({ of: "nick" });
    // The rename's fan-out to the user's other nodes did not happen: the operator is told, at warn (40).
    await n.waitForOutput(/"level":40.*"kind":"renamed".*could not tell a user's other nodes/);
    expect(n.output()).not.toMatch(/"level":50/);
  });

  it("serves Prometheus metrics on its own loopback port only, and logs one line per connection and per refusal", async () => {
    redis = await scope.redis();
    const n = await scope.node({ REDIS_URL: redis.url });
    const u = await scope.user(n);
    await say(u, "counted");
    await u.client.send({ action: "nope" });
    await u.client.action("error");
    const text = await n.metrics();
    // Only on the metrics port, bound to loopback unless METRICS_HOST says otherwise: never on the chat's public one.
    expect((await fetch(`${n.url}/metrics`)).status).toBe(404);
    const listening = n
      .output()
      .split("\n")
      .find((l) => l.includes("metrics listening"));
    expect(JSON.parse(listening ?? "{}")).toMatchObject({ host: "127.0.0.1" });
    expect(text).toMatch(/chat_connections\{transport="websocket"\} 1/);
    expect(text).toMatch(/chat_messages_in_total [1-9]/);
    expect(text).toMatch(/chat_messages_out_total [1-9]/);
    expect(text).toMatch(/chat_deliveries_total [1-9]/);
    expect(text).toMatch(/chat_errors_total\{code="unknown_action"\} 1/);
    expect(text).toMatch(/chat_bus_publish_seconds_count 1/);
    expect(text).toMatch(/chat_redis_up 1/);
    expect(text).toMatch(/nodejs_eventloop_lag_seconds/);
    u.client.close();
    await n.waitForOutput(new RegExp(`${u.id}.*connection closed`));
    // Lines are written in order: once a later connection's line is in, any more about this one would be too.
    const later = await scope.user(n);
    await n.waitForOutput(new RegExp(`${later.id}.*connection opened`));
    const lines = n
      .output()
      .split("\n")
      .filter((l) => l.includes(u.id));
    expect(lines.filter((l) => l.includes("connection opened"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("connection closed"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("request refused"))).toHaveLength(1);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  });
});
