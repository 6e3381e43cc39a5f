/**
 * The SockJS protocol as sockjs-client relies on it, written from the
 * specification (github.com/sockjs/sockjs-protocol) against our own server's
 * test services (scripts/sockjs-test-server.ts): framing, each transport's
 * headers and chunks, response limits, close codes, sessions, escaping.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { onMessages, startTestServices, type TestServices } from "../scripts/sockjs-test-server.js";
import { OutFrame } from "../src/transport/out-frame.js";
import type { Peer } from "../src/transport/peer.js";
import { attachSockjs, SOCKJS_DEFAULTS, type SockjsOptions, SockjsServer } from "../src/transport/sockjs-server.js";
import { rawRequest } from "./support/raw-http.js";

const log = pino({ level: "silent" });
let services: TestServices;
let base: string;

beforeAll(async () => {
  services = await startTestServices(0, "127.0.0.1", log);
  base = services.url;
});
afterAll(() => services.close());

const NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0";
const session = (service = "echo") => `${base}/${service}/000/${randomUUID()}`;
const post = (url: string, body?: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", body, headers });

function wsUrl(url: string): string {
  return url.replace(/^http/, "ws");
}

/** A websocket client that keeps every message and the close it saw. */
function openWs(url: string): Promise<{
  ws: WebSocket;
  next(): Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url));
    const queue: string[] = [];
    const waiting: ((m: string) => void)[] = [];
    ws.on("message", (d) => {
      const m = String(d);
      const w = waiting.shift();
      if (w) w(m);
      else queue.push(m);
    });
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on("close", (code, reason) => r({ code, reason: String(reason) })),
    );
    ws.on("error", reject);
    ws.on("open", () =>
      resolve({
        ws,
        closed,
        next: () =>
          new Promise((r, j) => {
            const m = queue.shift();
            if (m !== undefined) return r(m);
            const timer = setTimeout(() => j(new Error("no websocket message within 3 s")), 3000);
            waiting.push((x) => {
              clearTimeout(timer);
              r(x);
            });
          }),
      }),
    );
  });
}

describe("static URLs", () => {
  it("greets at the prefix, with and without a slash, and answers 404 below it", async () => {
    for (const url of [`${base}/echo`, `${base}/echo/`]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=UTF-8");
      expect(await res.text()).toBe("Welcome to SockJS!\n");
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    for (const suffix of ["/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/", "/a/a/nope", "/a/a/constructor"]) {
      expect((await fetch(`${base}/echo${suffix}`)).status, suffix).toBe(404);
    }
  });

  it("serves /info uncached, with CORS, fresh entropy and the service's capabilities", async () => {
    const res = await fetch(`${base}/echo/info`, { headers: { Origin: "https://page.example" } });
    expect(res.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(res.headers.get("cache-control")).toBe(NO_CACHE);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://page.example");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    const first = await res.json();
    expect(first).toMatchObject({ websocket: true, cookie_needed: false, origins: ["*:*"] });
    const second = await (await fetch(`${base}/echo/info`)).json();
    expect(Number.isInteger(first.entropy)).toBe(true);
    expect(second.entropy).not.toBe(first.entropy);
    expect((await (await fetch(`${base}/disabled_websocket_echo/info`)).json()).websocket).toBe(false);
    expect((await (await fetch(`${base}/cookie_needed_echo/info`)).json()).cookie_needed).toBe(true);
  });

  it("answers preflights with a year's cache and the requested headers", async () => {
    for (const [path, methods] of [
      ["/info", "OPTIONS, GET"],
      ["/a/b/xhr", "OPTIONS, POST"],
      ["/a/b/xhr_send", "OPTIONS, POST"],
      ["/a/b/xhr_streaming", "OPTIONS, POST"],
    ]) {
      const res = await fetch(`${base}/echo${path}`, {
        method: "OPTIONS",
        headers: { Origin: "null", "Access-Control-Request-Headers": "a, b, c" },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("null");
      expect(res.headers.get("access-control-allow-methods")).toBe(methods);
      expect(res.headers.get("access-control-allow-headers")).toBe("a, b, c");
      expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(1_000_000);
      expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d{7,}$/);
    }
  });

  it("serves the iframe page cacheable, with an ETag, a strict CSP and 304 when unchanged", async () => {
    const res = await fetch(`${base}/echo/iframe-0.1.2.html?t=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=UTF-8");
    expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'; script-src \S+ 'sha256-/);
    const etag = res.headers.get("etag") ?? "";
    expect(etag).not.toBe("");
    expect(await res.text()).toContain("SockJS.bootstrap_iframe();");
    const again = await fetch(`${base}/echo/iframe.html`, { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
    for (const bad of ["/iframe.htm", "/IFRAME.HTML", "/iframe.xml", "/iframe-/.html"]) {
      expect((await fetch(`${base}/echo${bad}`)).status, bad).toBe(404);
    }
  });
});

describe("xhr polling", () => {
  it("opens, batches what waits into one frame, and serves it uncached with CORS", async () => {
    const url = session();
    const open = await post(`${url}/xhr`, undefined, { Origin: "https://page.example" });
    expect(await open.text()).toBe("o\n");
    expect(open.headers.get("content-type")).toBe("application/javascript; charset=UTF-8");
    expect(open.headers.get("cache-control")).toBe(NO_CACHE);
    expect(open.headers.get("access-control-allow-origin")).toBe("https://page.example");
    for (const m of ["one", "two", "three"]) {
      const sent = await post(`${url}/xhr_send`, JSON.stringify([m]));
      expect(sent.status).toBe(204);
      expect(sent.headers.get("content-type")).toBe("text/plain; charset=UTF-8");
      expect(await sent.text()).toBe("");
    }
    expect(await (await post(`${url}/xhr`)).text()).toBe('a["one","two","three"]\n');
  });

  it("holds a poll until there is something, and turns a second concurrent poll away with 2010", async () => {
    const url = session();
    await (await post(`${url}/xhr`)).text();
    const held = post(`${url}/xhr`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    expect(await (await post(`${url}/xhr`)).text()).toBe('c[2010,"Another connection still open"]\n');
    await post(`${url}/xhr_send`, '["later"]');
    expect(await held).toBe('a["later"]\n');
  });

  it("closes a session whose poll the client aborted with 1002", async () => {
    const url = session();
    await (await post(`${url}/xhr`)).text();
    const abort = new AbortController();
    const held = fetch(`${url}/xhr`, { method: "POST", signal: abort.signal }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 100));
    abort.abort();
    expect(await held).toBe("aborted");
    await new Promise((r) => setTimeout(r, 100));
    expect(await (await post(`${url}/xhr`)).text()).toBe('c[1002,"Connection interrupted"]\n');
  });

  it("refuses broken send bodies with the protocol's answers, and an unknown session with 404", async () => {
    const url = session();
    await (await post(`${url}/xhr`)).text();
    const cases: [string, number, string][] = [
      ['["x', 500, "Broken JSON encoding."],
      ["", 500, "Payload expected."],
      ['{"a":1}', 500, "Payload expected."],
      ['"just a string"', 500, "Payload expected."],
      ['["ok", 5]', 500, "Payload expected."],
    ];
    for (const [body, status, text] of cases) {
      const res = await post(`${url}/xhr_send`, body);
      expect(res.status, body).toBe(status);
      expect(await res.text(), body).toContain(text);
    }
    expect((await post(`${url}/xhr_send`, "[]")).status).toBe(204);
    expect((await post(`${session()}/xhr_send`, '["x"]')).status).toBe(404);
    // Nothing of a refused body was delivered.
    await post(`${url}/xhr_send`, '["after"]');
    expect(await (await post(`${url}/xhr`)).text()).toBe('a["after"]\n');
  });

  it("refuses a send body over the size limit with 413", async () => {
    const small = await startCustom({ maxMessageBytes: 1024 }, (peer) => onMessages(peer, () => undefined));
    try {
      const url = `${small.url}/t/000/${randomUUID()}`;
      await (await post(`${url}/xhr`)).text();
      const res = await post(`${url}/xhr_send`, JSON.stringify(["x".repeat(2000)]));
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
  });

  it("sends the close frame of a closed session to every later poll", async () => {
    const url = session("close");
    expect(await (await post(`${url}/xhr`)).text()).toBe("o\n");
    for (let i = 0; i < 2; i++) expect(await (await post(`${url}/xhr`)).text()).toBe('c[3000,"Go away!"]\n');
  });

  it("escapes what browsers mangle as lower-case \\u escapes, and decodes what clients escape", async () => {
    const url = session();
    await (await post(`${url}/xhr`)).text();
    const tricky = "\u2028\u2029\u200c\u2060\ufff0\uffff\u0000 é 😀";
    await post(`${url}/xhr_send`, JSON.stringify([tricky]));
    const body = await (await post(`${url}/xhr`)).text();
    expect(body).toBe('a["\\u2028\\u2029\\u200c\\u2060\\ufff0\\uffff\\u0000 é 😀"]\n');
    expect(JSON.parse(body.slice(1))).toEqual([tricky]);
  });
});

describe("streaming transports", () => {
  it("xhr_streaming: a 2 KiB prelude, then one chunk per frame, ended after the response limit", async () => {
    const url = session();
    const res = await rawRequest(`${url}/xhr_streaming`, "POST", { Origin: "https://page.example" });
    expect(res.headers["content-type"]).toBe("application/javascript; charset=UTF-8");
    expect(res.headers["cache-control"]).toBe(NO_CACHE);
    expect(res.headers["access-control-allow-origin"]).toBe("https://page.example");
    expect(await res.chunk()).toBe(`${"h".repeat(2048)}\n`);
    expect(await res.chunk()).toBe("o\n");
    const msg = `"${"x".repeat(128)}"`;
    // o\n plus 30 frames of 134 bytes stay under 4096; the 31st passes it.
    for (let i = 0; i < 31; i++) {
      await post(`${url}/xhr_send`, `[${msg}]`);
      expect(await res.chunk()).toBe(`a[${msg}]\n`);
    }
    expect(await res.chunk()).toBe("");
    res.destroy();
  });

  it("xhr_streaming: a second stream on one session gets 2010 and is ended", async () => {
    const url = session();
    const first = await rawRequest(`${url}/xhr_streaming`, "POST");
    await first.chunk();
    expect(await first.chunk()).toBe("o\n");
    const second = await rawRequest(`${url}/xhr_streaming`, "POST");
    await second.chunk();
    expect(await second.rest()).toEqual(['c[2010,"Another connection still open"]\n']);
    first.destroy();
  });

  it("eventsource: a CRLF prelude, then data lines with control characters escaped", async () => {
    const url = session();
    const res = await rawRequest(`${url}/eventsource`, "GET");
    expect(res.headers["content-type"]).toBe("text/event-stream");
    expect(res.headers["cache-control"]).toBe(NO_CACHE);
    expect(await res.chunk()).toBe("\r\n");
    expect(await res.chunk()).toBe("data: o\r\n\r\n");
    await post(`${url}/xhr_send`, String.raw`["  \u0000\n\r "]`);
    expect(await res.chunk()).toBe(`data: a["  \\u0000\\n\\r "]\r\n\r\n`);
    res.destroy();
  });

  it("htmlfile: validates the callback, and no message can end or open a script", async () => {
    expect(await (await fetch(`${base}/echo/a/a/htmlfile`)).text()).toContain('"callback" parameter required');
    for (const bad of ["%20", "*", "abc(", "abc%28", "a%3Cb"]) {
      const res = await fetch(`${base}/echo/a/a/htmlfile?c=${bad}`);
      expect(res.status, bad).toBe(500);
      expect(await res.text()).toContain('invalid "callback" parameter');
    }
    const url = session();
    const res = await rawRequest(`${url}/htmlfile?c=cb`, "GET");
    expect(res.headers["content-type"]).toBe("text/html; charset=UTF-8");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["content-security-policy"]).toBe(
      "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors *",
    );
    const head = await res.chunk();
    expect(head).toContain("var c = parent.cb;");
    expect(head.length).toBeGreaterThan(1024);
    expect(await res.chunk()).toBe('<script>\np("o");\n</script>\r\n');
    const hostile = "</script><script src=//a.bc></script><!-- \u2028 & <SCRIPT>";
    await post(`${url}/xhr_send`, JSON.stringify([hostile]));
    const frame = await res.chunk();
    // One script element, whose string literal holds no markup at all.
    expect(frame).toMatch(/^<script>\np\("[^<>&\u2028\u2029]*"\);\n<\/script>\r\n$/);
    const literal = frame.slice("<script>\np(".length, -");\n</script>\r\n".length);
    expect(JSON.parse(JSON.parse(literal).slice(1))).toEqual([hostile]);
    res.destroy();
  });

  it("ends a stream whose client takes nothing for two heartbeats", async () => {
    const megabyte = new OutFrame("y".repeat(1 << 20));
    const quick = await startCustom({ heartbeatMs: 200, responseLimit: 1 << 30 }, (peer) => {
      onMessages(peer, () => {
        for (let i = 0; i < 40; i++) peer.send(megabyte);
      });
    });
    try {
      const url = `${quick.url}/t/000/${randomUUID()}`;
      const stream = await rawRequest(`${url}/xhr_streaming`, "POST");
      await stream.chunk();
      expect(await stream.chunk()).toBe("o\n");
      // Stop reading while the server writes far more than the socket buffers hold.
      stream.pause();
      await post(`${url}/xhr_send`, '["go"]');
      expect(quick.server.connections).toBe(1);
      // Two heartbeats with nothing taken: gone.
      await expect.poll(() => quick.server.connections, { timeout: 3000 }).toBe(0);
      stream.destroy();
    } finally {
      await quick.close();
    }
  });
});

describe("jsonp", () => {
  it("polls through a validated callback and takes sends as a form or as text", async () => {
    expect((await fetch(`${base}/echo/a/a/jsonp`)).status).toBe(500);
    expect(await (await fetch(`${base}/echo/a/a/jsonp?c=abc(`)).text()).toContain('invalid "callback" parameter');
    const url = session();
    const open = await fetch(`${url}/jsonp?c=%63allback`);
    expect(open.headers.get("content-type")).toBe("application/javascript; charset=UTF-8");
    expect(open.headers.get("x-content-type-options")).toBe("nosniff");
    expect(open.headers.get("cache-control")).toBe(NO_CACHE);
    expect(await open.text()).toBe('/**/callback("o");\r\n');
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    const sent = await post(`${url}/jsonp_send`, "d=%5B%22x%22%5D", form);
    expect(sent.status).toBe(200);
    expect(await sent.text()).toBe("ok");
    expect(await (await post(`${url}/jsonp_send`, '["</script>"]', { "Content-Type": "text/plain" })).text()).toBe(
      "ok",
    );
    for (const body of ["", "d=", "p=p"]) {
      const res = await post(`${url}/jsonp_send`, body, form);
      expect(res.status, body).toBe(500);
      expect(await res.text()).toContain("Payload expected.");
    }
    expect(await (await post(`${url}/jsonp_send`, "d=%5B%22x", form)).text()).toContain("Broken JSON encoding.");
    expect(await (await fetch(`${url}/jsonp?c=x`)).text()).toBe('/**/x("a[\\"x\\",\\"\\u003c/script\\u003e\\"]");\r\n');
  });
});

describe("websocket", () => {
  it("frames with o and a[...], ignores empty frames, and ends abruptly on broken JSON", async () => {
    const c = await openWs(`${session()}/websocket`);
    expect(await c.next()).toBe("o");
    c.ws.send("");
    c.ws.send("[]");
    c.ws.send('["a","b"]');
    expect(await c.next()).toBe('a["a","b"]');
    c.ws.send('"single"');
    expect(await c.next()).toBe('a["single"]');
    c.ws.send('["a');
    expect((await c.closed).code).toBe(1006);
  });

  it("closes with the close frame, and the raw endpoint with the websocket close code", async () => {
    const c = await openWs(`${session("close")}/websocket`);
    expect(await c.next()).toBe("o");
    expect(await c.next()).toBe('c[3000,"Go away!"]');
    await c.closed;
    const raw = await openWs(`${base}/close/websocket`);
    expect(await raw.closed).toEqual({ code: 3000, reason: "Go away!" });
  });

  it("echoes raw websocket text unframed", async () => {
    const raw = await openWs(`${base}/echo/websocket`);
    raw.ws.send("Hello world!\uffff");
    expect(await raw.next()).toBe("Hello world!\uffff");
    raw.ws.close();
  });

  it("lets two websockets share a session id: they are separate sessions", async () => {
    const url = `${session()}/websocket`;
    const a = await openWs(url);
    const b = await openWs(url);
    await a.next();
    await b.next();
    a.ws.send('["a"]');
    b.ws.send('["b"]');
    expect(await a.next()).toBe('a["a"]');
    expect(await b.next()).toBe('a["b"]');
    a.ws.close();
    b.ws.close();
  });

  it("answers a plain GET with 400, a POST with 405, and is 404 where websockets are off", async () => {
    expect((await fetch(`${base}/echo/0/0/websocket`)).status).toBe(400);
    const post405 = await post(`${base}/echo/0/0/websocket`);
    expect(post405.status).toBe(405);
    expect(post405.headers.get("allow")).toBe("GET");
    expect(post405.headers.get("content-type")).toBeNull();
    const off = await rawRequest(`${base}/disabled_websocket_echo/0/0/websocket`, "GET", {
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw==",
    });
    expect(off.status).toBe(404);
  });

  it("speaks the draft-76 handshake, answering the headers before the key arrives", async () => {
    const url = `${session()}/websocket`;
    const res = await rawRequest(url, "GET", {
      Connection: "Upgrade",
      Upgrade: "WebSocket",
      Origin: base,
      "Sec-WebSocket-Key1": "4 @1  46546xW%0l 1 5",
      "Sec-WebSocket-Key2": "12998 5 Y3 1  .P00",
    });
    expect(res.status).toBe(101);
    expect(res.headers["sec-websocket-location"]).toBe(wsUrl(url));
    expect(res.headers["sec-websocket-origin"]).toBe(base);
    res.destroy();
  });

  it("pings, and drops a websocket peer that stops answering", async () => {
    const quick = await startCustom({ heartbeatMs: 200 }, () => undefined);
    try {
      const c = await openWs(`${quick.url}/t/000/x/websocket`);
      expect(await c.next()).toBe("o");
      expect(await c.next()).toBe("h");
      expect(quick.server.connections).toBe(1);
      // A client that no longer answers pings: its socket stays open, nothing comes back.
      (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await expect.poll(() => quick.server.connections, { timeout: 3000 }).toBe(0);
      c.ws.terminate();
    } finally {
      await quick.close();
    }
  });

  it("beats every websocket of many, interval after interval, and keeps those that answer", async () => {
    // Three slices of the interval: the connections beat in turns, each once an interval.
    const quick = await startCustom({ heartbeatMs: 300 }, () => undefined);
    try {
      const clients = await Promise.all(Array.from({ length: 10 }, () => openWs(`${quick.url}/t/000/x/websocket`)));
      for (const c of clients) expect(await c.next()).toBe("o");
      for (const c of clients) expect([await c.next(), await c.next()]).toEqual(["h", "h"]);
      expect(quick.server.connections).toBe(10);
      for (const c of clients.slice(5)) c.ws.close();
      await expect.poll(() => quick.server.connections, { timeout: 3000 }).toBe(5);
      for (const c of clients.slice(0, 5)) expect(await c.next()).toBe("h");
      for (const c of clients.slice(0, 5)) c.ws.terminate();
    } finally {
      await quick.close();
    }
  });
});

describe("sessions", () => {
  it("sets JSESSIONID on every session response where cookies are needed", async () => {
    const url = session("cookie_needed_echo");
    const open = await post(`${url}/xhr`);
    expect(open.headers.get("set-cookie")).toBe("JSESSIONID=dummy; path=/");
    const echoed = await post(`${session("cookie_needed_echo")}/xhr`, undefined, { Cookie: "JSESSIONID=abcdef" });
    expect(echoed.headers.get("set-cookie")).toBe("JSESSIONID=abcdef; path=/");
    const hostile = await post(`${session("cookie_needed_echo")}/xhr`, undefined, { Cookie: "JSESSIONID=a;b" });
    expect(hostile.headers.get("set-cookie")).toBe("JSESSIONID=a; path=/");
    expect((await fetch(`${base}/cookie_needed_echo/info`)).headers.get("set-cookie")).toBeNull();
  });

  it("forgets a session nobody polls within the disconnect delay", async () => {
    const quick = await startCustom({ disconnectDelayMs: 200 }, () => undefined);
    try {
      const url = `${quick.url}/t/000/${randomUUID()}`;
      expect(await (await post(`${url}/xhr`)).text()).toBe("o\n");
      await expect.poll(() => quick.server.connections, { timeout: 3000 }).toBe(0);
      expect(await (await post(`${url}/xhr`)).text()).toBe("o\n");
    } finally {
      await quick.close();
    }
  });

  it("reads nothing more of a frame once a message handler closed the connection", async () => {
    const seen: string[] = [];
    const closing = await startCustom({}, (peer) => {
      onMessages(peer, (text) => {
        seen.push(text);
        if (text === "stop") peer.close(4002, "Enough");
      });
    });
    try {
      const c = await openWs(`${closing.url}/t/000/a/websocket`);
      await c.next();
      c.ws.send(JSON.stringify(["1", "2", "stop", "3", "4"]));
      expect(await c.next()).toBe('c[4002,"Enough"]');
      const url = `${closing.url}/t/000/${randomUUID()}`;
      await (await post(`${url}/xhr`)).text();
      expect((await post(`${url}/xhr_send`, JSON.stringify(["5", "stop", "6"]))).status).toBe(204);
      expect(await (await post(`${url}/xhr`)).text()).toBe('c[4002,"Enough"]\n');
      expect(seen).toEqual(["1", "2", "stop", "5", "stop"]);
    } finally {
      await closing.close();
    }
  });
});

/** One more SockJS endpoint at `/t`, with options of a test's own. */
async function startCustom(
  overrides: Partial<SockjsOptions>,
  onConnection: (peer: Peer) => void,
): Promise<{ url: string; server: SockjsServer; close(): Promise<void> }> {
  const server = new SockjsServer(
    {
      ...SOCKJS_DEFAULTS,
      prefix: "/t",
      sockjsUrl: "/sockjs.js",
      maxMessageBytes: 65536,
      maxPendingBytes: 0,
      allowRequest: () => true,
      clientAddress: () => "127.0.0.1",
      log,
      ...overrides,
    },
    onConnection,
  );
  const httpServer = http.createServer();
  attachSockjs(httpServer, [server], (_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => httpServer.listen(0, "127.0.0.1", r));
  const { port } = httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: async () => {
      server.close(1001, "Going away");
      httpServer.closeAllConnections();
      await new Promise((r) => httpServer.close(r));
    },
  };
}
