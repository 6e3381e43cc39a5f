/**
 * What one hostile client could do to the node through the transport, each
 * reproduced against a real node process: one frame that closes its own
 * connection half-way, script smuggled into the htmlfile transport, a raw
 * websocket that stops reading, upgrades outside /sock, session hijacking.
 */
import net from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { joinedUser, say, type User } from "./support/chat.js";
import type { NodeProcess } from "./support/processes.js";
import { holdRequest, rawRequest } from "./support/raw-http.js";
import { perTest } from "./support/scope.js";
import { SockClient } from "./support/sockjs-client.js";

const scope = perTest();

/** The node is up, answers HTTP and carries chat between two users. */
async function stillServing(n: NodeProcess, a: User, b: User): Promise<void> {
  expect(n.child.exitCode).toBeNull();
  expect((await fetch(`${n.url}/healthz`)).status).toBe(200);
  const mid = await say(a, "still here");
  await b.client.action("message", (f) => f.mid === mid);
  expect(n.output()).not.toMatch(/"level":(50|60)/);
}

const flood = JSON.stringify(Array.from({ length: 100 }, () => JSON.stringify({ action: "message", message: "x" })));

describe("a frame whose handling closes its own connection", () => {
  it("over a websocket: the flooder is closed with 4002, the node and its users carry on", async () => {
    const n = await scope.node();
    const a = await scope.user(n);
    const b = await scope.user(n);
    const ws = new WebSocket(`${n.url.replace("http", "ws")}/sock/000/abcdefgh/websocket`);
    scope.defer(() => ws.terminate());
    const frames: string[] = [];
    ws.on("message", (d) => frames.push(String(d)));
    await new Promise((r) => ws.once("open", r));
    await expect.poll(() => frames.some((f) => f.includes("user_info"))).toBe(true);
    ws.send(flood);
    const closed = await new Promise<number>((r) => ws.once("close", (code) => r(code)));
    expect(closed).toBe(1000);
    expect(frames.at(-1)).toBe('c[4002,"Flooding"]');
    await stillServing(n, a, b);
  });

  it("over xhr_send: one body of 100 messages closes the sender's session, nothing else", async () => {
    const n = await scope.node();
    const a = await scope.user(n);
    const b = await scope.user(n);
    const flooder = await SockClient.connect(n.url, { transport: "xhr-polling" });
    scope.defer(() => flooder.close());
    await flooder.action("user_info");
    const res = await fetch(`${flooder.sessionUrl}/xhr_send`, { method: "POST", body: flood });
    expect(res.status).toBe(204);
    expect(await flooder.waitClosed()).toEqual({ code: 4002, reason: "Flooding" });
    await stillServing(n, a, b);
  });
});

describe("the htmlfile transport", () => {
  it("never lets a name or a message end the script it travels in", async () => {
    const n = await scope.node({ ALLOWED_ORIGINS: "https://good.example" });
    const listener = await rawRequest(`${n.url}/sock/000/listening/htmlfile?c=cb`, "GET");
    scope.defer(() => listener.destroy());
    expect(listener.headers["x-content-type-options"]).toBe("nosniff");
    expect(listener.headers["content-security-policy"]).toBe(
      "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'self' https://good.example",
    );
    await listener.chunk();
    const hostile = await scope.user(n);
    const name = "</script><script src=//a.bc>";
    await hostile.client.send({ action: "nick", name, ref: "n" });
    await hostile.client.action("ack", (f) => f.ref === "n");
    await say(hostile, "<!-- </script><script>alert(1)</script> \u2028");
    await hostile.client.send({ action: "typing" });

    const received: unknown[] = [];
    while (!received.some((f) => JSON.stringify(f).includes('"typing"'))) {
      const chunk = await listener.chunk(5000);
      // Each chunk is one script element holding one string literal with no markup in it.
      expect(chunk).toMatch(/^<script>\np\("[^<>&\u2028\u2029]*"\);\n<\/script>\r\n$/);
      const frame = JSON.parse(chunk.slice("<script>\np(".length, -");\n</script>\r\n".length)) as string;
      if (frame.startsWith("a")) received.push(...(JSON.parse(frame.slice(1)) as string[]).map((m) => JSON.parse(m)));
    }
    expect(received).toContainEqual(expect.objectContaining({ action: "user_renamed", name }));
    expect(received).toContainEqual(expect.objectContaining({ action: "typing", name }));
  });
});

describe("the raw websocket endpoint", () => {
  it("closes a client that stops reading once MAX_PENDING_BYTES wait for it, with 4003", async () => {
    // A sender must outwrite a reader here: the write budgets, which would stop it first, are another test's.
    const n = await scope.node({
      MAX_PENDING_BYTES: "262144",
      RATE_LIMIT: "0",
      WRITE_BYTES_PER_USER: "0",
      WRITE_BYTES_PER_IP: "0",
    });
    const slow = new WebSocket(`${n.url.replace("http", "ws")}/sock/websocket`);
    scope.defer(() => slow.terminate());
    const closed = new Promise<number>((r) => slow.once("close", (code) => r(code)));
    const seen: string[] = [];
    slow.on("message", (d) => seen.push(String(d)));
    await new Promise((r) => slow.once("open", r));
    await expect.poll(() => seen.some((f) => f.includes("user_info"))).toBe(true);
    const sender = await scope.user(n);
    const reader = await scope.user(n);
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();

    const text = "z".repeat(3500);
    let sent = 0;
    while (!n.output().includes("closing a slow consumer")) {
      expect(sent, "the slow consumer was never closed").toBeLessThan(20_000);
      await Promise.all(Array.from({ length: 200 }, () => sender.client.send({ action: "message", message: text })));
      sent += 200;
      await expect.poll(() => reader.client.all("message").length, { timeout: 10_000 }).toBe(sent);
    }
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(4003);
    const metrics = await n.metrics();
    expect(metrics).toMatch(/chat_errors_total\{code="slow_consumer"\} 1/);
  }, 60_000);
});

describe("refused sessions", () => {
  it("reach a polling client as an error before the close", async () => {
    const n = await scope.node({ AUTH_SECRET: "a-test-secret-that-is-long-enough-0123456789" });
    const c = await SockClient.connect(n.url, { transport: "xhr-polling" });
    scope.defer(() => c.close());
    const err = await c.action("error");
    expect(err.code).toBe("unauthorized");
    expect(await c.waitClosed()).toEqual({ code: 4001, reason: "Unauthorized" });
    expect(c.frames.map((f) => f.action)).toEqual(["error"]);
  });

  it("over the address's connection cap are all counted, and logged at a sampled rate", async () => {
    const n = await scope.node({ MAX_CONNECTIONS_PER_IP: "1" });
    await scope.user(n);
    const refusals = 30;
    for (let i = 0; i < refusals; i++) {
      const opened = await fetch(`${n.url}/sock/000/refused${i}/xhr`, { method: "POST" });
      expect(await opened.text()).toBe("o\n");
    }
    await expect
      .poll(async () => (await n.metrics()).match(/chat_errors_total\{code="too_many_connections"\} (\d+)/)?.[1])
      .toBe(String(refusals));
    const lines = n
      .output()
      .split("\n")
      .filter((l) => l.includes("connection refused"));
    // One line per ten seconds: a run slower than that may have written a second.
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(2);
  });

  it("with ids longer than 64 characters get a 404 on every transport, counted, and logged at a sampled rate", async () => {
    const n = await scope.node();
    const long = "s".repeat(65);
    expect((await fetch(`${n.url}/sock/000/${"s".repeat(64)}/xhr`, { method: "POST" })).status).toBe(200);
    const refusals = 40;
    for (let i = 0; i < refusals / 4; i++) {
      expect((await fetch(`${n.url}/sock/000/${long}${i}/xhr`, { method: "POST" })).status).toBe(404);
      expect((await fetch(`${n.url}/sock/000/${long}${i}/xhr_streaming`, { method: "POST" })).status).toBe(404);
      expect((await fetch(`${n.url}/sock/${long}/s${i}/eventsource`)).status).toBe(404);
      const ws = new WebSocket(`${n.url.replace("http", "ws")}/sock/000/${long}${i}/websocket`);
      const status = await new Promise<number | undefined>((resolve) => {
        ws.once("unexpected-response", (_req, res) => resolve(res.statusCode));
        ws.once("open", () => resolve(undefined));
        ws.once("error", () => undefined);
      });
      ws.terminate();
      expect(status).toBe(404);
    }
    await expect
      .poll(async () => (await n.metrics()).match(/chat_refused_requests_total\{reason="session_id"\} (\d+)/)?.[1])
      .toBe(String(refusals));
    await n.waitForOutput(/"why":"session_id"/);
    const lines = n
      .output()
      .split("\n")
      .filter((l) => l.includes('"why":"session_id"'));
    // One line per ten seconds: a run slower than that may have written a second.
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(lines.length).toBeLessThan(refusals);
    // The log names the path cut short, never the whole id of a flood.
    expect(n.output()).not.toContain(long.repeat(3));
    expect(n.child.exitCode).toBeNull();
  });
});

describe("slow requests", () => {
  const head = (n: NodeProcess, path: string, headers: Record<string, string>) =>
    [`POST ${path} HTTP/1.1`, `Host: ${new URL(n.url).host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
      .join("\r\n")
      .concat("\r\n\r\n");

  it("a send body that trickles is answered 408 once SEND_TIMEOUT passes, and its socket closed", async () => {
    const n = await scope.node({ SEND_TIMEOUT: "1000" });
    const c = await SockClient.connect(n.url, { transport: "xhr-polling" });
    scope.defer(() => c.close());
    await c.action("user_info");
    const held = await holdRequest(
      n.url,
      head(n, `${new URL(c.sessionUrl).pathname}/xhr_send`, { "Content-Length": "100" }),
      '["{\\"action',
    );
    scope.defer(() => held.destroy());
    expect(await held.answered()).toBe(408);
    await held.closed();
    await expect
      .poll(async () => (await n.metrics()).match(/chat_refused_requests_total\{reason="body_too_slow"\} (\d+)/)?.[1])
      .toBe("1");
    // The session itself goes on.
    await c.send({ action: "users", ref: "u" });
    await c.action("users");
  });

  it("headers that never end are cut off once HEADERS_TIMEOUT passes", async () => {
    const n = await scope.node({ HEADERS_TIMEOUT: "1000" });
    const held = await holdRequest(n.url, `GET /sock/info HTTP/1.1\r\nHost: ${new URL(n.url).host}\r\nX-Slow: 1\r\n`);
    scope.defer(() => held.destroy());
    await held.closed();
    expect(n.child.exitCode).toBeNull();
  });

  it("send requests being read take the address's slots: one address is refused past MAX_CONNECTIONS_PER_IP, another chats", async () => {
    const n = await scope.node({ MAX_CONNECTIONS_PER_IP: "3", TRUST_PROXY: "1", SEND_TIMEOUT: "60000" });
    const flooder = { "X-Forwarded-For": "192.0.2.1" };
    const held = [];
    for (let i = 0; i < 3; i++) {
      const h = await holdRequest(
        n.url,
        head(n, `/sock/000/slow${i}/xhr_send`, { ...flooder, "Content-Length": "100" }),
        "[",
      );
      scope.defer(() => h.destroy());
      held.push(h);
    }
    const status = async () => (await rawRequest(`${n.url}/sock/000/quick/xhr_send`, "POST", flooder, '["x"]')).status;
    // Once the three slow bodies are being read, a fourth request from their address is turned away.
    await expect.poll(status).toBe(429);

    const other = await joinedUser(n.url, { transport: "xhr-polling", headers: { "X-Forwarded-For": "192.0.2.2" } });
    scope.defer(() => other.client.close());
    const reader = await scope.user(n);
    const mid = await say(other, "another address still chats");
    await reader.client.action("message", (f) => f.mid === mid);

    // A slot comes back when its request ends.
    held[0]?.destroy();
    await expect.poll(status).toBe(404);
    expect(await n.metrics()).toMatch(/chat_refused_requests_total\{reason="busy_address"\} [1-9]/);
  });
});

describe("upgrade requests outside /sock", () => {
  it("are answered with an HTTP error and their socket closed at once", async () => {
    const n = await scope.node();
    const { port } = new URL(n.url);
    for (const path of ["/x", "/", "/sockx", "/sock", "/sock/info"]) {
      const socket = net.connect(Number(port), "127.0.0.1");
      scope.defer(() => socket.destroy());
      let answer = "";
      socket.on("data", (d: Buffer) => {
        answer += d.toString("latin1");
      });
      const ended = new Promise<void>((r) => socket.once("close", () => r()));
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n",
      );
      await Promise.race([
        ended,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${path}: socket still open`)), 2000)),
      ]);
      expect(answer, path).toMatch(/^HTTP\/1\.1 404 /);
    }
    const health = await fetch(`${n.url}/healthz`);
    expect(await health.json()).toMatchObject({ connections: 0 });
  });
});

describe("connection ids", () => {
  it("never reveal the SockJS session id, so nobody can send or read on another's session", async () => {
    const n = await scope.node();
    const watcher = await scope.user(n);
    const victim = await SockClient.connect(n.url, { transport: "xhr-polling" });
    scope.defer(() => victim.close());
    const info = await victim.action("user_info");
    const joined = await watcher.client.action("user_join", (f) => f.id === info.id);
    const sessionId = victim.sessionUrl.split("/").at(-1) as string;
    expect(String(joined.id)).not.toContain(sessionId);
    // What an attacker can build from the id everyone sees goes nowhere.
    const guess = String(joined.id).split(".").at(-1);
    const res = await fetch(`${n.url}/sock/000/${guess}/xhr_send`, {
      method: "POST",
      body: JSON.stringify([JSON.stringify({ action: "message", message: "not me" })]),
    });
    expect(res.status).toBe(404);
  });
});
