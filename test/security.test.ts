/**
 * What a hostile client could still do after the transport was ours: pass
 * the origin list through the iframe page or DNS rebinding, hold a token
 * forever, be seen while refused, buy large replies with small requests,
 * pass for someone else by name, and make Redis's refusals crash a node.
 */
import { Redis } from "ioredis";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { joinRoom, say, type User } from "./support/chat.js";
import { allocatePort } from "./support/ports.js";
import { rawRequest } from "./support/raw-http.js";
import { perTest } from "./support/scope.js";
import { type Frame, SockClient } from "./support/sockjs-client.js";

const scope = perTest();

describe("origins", () => {
  it("refuses a cross-site page that hides its origin, and a rebound host, on the iframe page and every transport", async () => {
    const port = await allocatePort();
    const own = `http://127.0.0.1:${port}`;
    const n = await scope.node({ ALLOWED_ORIGINS: `${own},https://good.example` }, port);
    const get = (path: string, headers: Record<string, string>) => fetch(`${n.url}${path}`, { headers });
    // What Chromium sends for <iframe src=".../sock/iframe.html" referrerpolicy="no-referrer"> on another site.
    const framed = { "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate" };
    expect((await get("/sock/iframe.html", framed)).status).toBe(403);
    expect((await get("/sock/000/hidden/htmlfile?c=x", framed)).status).toBe(403);
    expect((await get("/sock/000/hidden/eventsource", { "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    // DNS rebinding: the attacker's own name, pointed at this server; the browser calls that same-origin.
    const rebound = { Host: "evil.example:8080", "Sec-Fetch-Site": "same-origin" };
    const stream = await rawRequest(`${n.url}/sock/000/rebound/eventsource`, "GET", rebound);
    stream.destroy();
    expect(stream.status).toBe(403);
    const post = await rawRequest(`${n.url}/sock/000/rebound/xhr`, "POST", {
      Host: "evil.example:8080",
      Origin: "http://evil.example:8080",
    });
    post.destroy();
    expect(post.status).toBe(403);
    // The same request to the host the chat is published under is one of its own pages'.
    const ownPage = await rawRequest(`${n.url}/sock/000/own/eventsource`, "GET", { "Sec-Fetch-Site": "same-origin" });
    ownPage.destroy();
    expect(ownPage.status).toBe(200);
    // The allowed pages, same-origin or framing from an allowed site, and native clients get in.
    expect((await get("/sock/iframe.html", { "Sec-Fetch-Site": "same-origin" })).status).toBe(200);
    expect((await get("/sock/iframe.html", { ...framed, Referer: "https://good.example/chat" })).status).toBe(200);
    expect((await get("/sock/info", { Origin: own })).status).toBe(200);
    expect((await get("/sock/info", {})).status).toBe(200);
    const iframe = await get("/sock/iframe.html", {});
    expect(iframe.headers.get("content-security-policy")).toMatch(
      /frame-ancestors 'self' http:\/\/127\.0\.0\.1:\d+ https:\/\/good\.example$/,
    );
    await n.waitForOutput(/"why":"origin"/);
  });
});

describe("tokens", () => {
  const secret = "a-test-secret-that-is-long-enough-0123456789";
  const key = new TextEncoder().encode(secret);
  const sign = async (claims: Record<string, unknown>, expires?: number | string) => {
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
    if (expires !== undefined) jwt.setExpirationTime(expires);
    return jwt.sign(key);
  };

  it("refuses a token without exp, or valid for longer than AUTH_MAX_TOKEN_LIFETIME", async () => {
    const n = await scope.node({ AUTH_SECRET: secret, AUTH_MAX_TOKEN_LIFETIME: "3600" });
    for (const [token, why] of [
      [await sign({ sub: "u1", name: "Ada" }), "exp"],
      [await sign({ sub: "u1", name: "Ada" }, "2h"), "3600"],
      [await sign({ sub: "u1", name: "Ada" }, Math.floor(Date.now() / 1000) - 60), "expired"],
    ] as const) {
      const c = await SockClient.connect(n.url, { query: `token=${token}` });
      scope.defer(() => c.close());
      const err = await c.action("error");
      expect(err.code).toBe("unauthorized");
      expect(String(err.message)).toContain(why);
      expect(await c.waitClosed()).toEqual({ code: 4001, reason: "Unauthorized" });
    }
    const ok = await scope.user(n, `token=${await sign({ sub: "u1", name: "Ada" }, "1h")}`);
    expect(ok.name).toBe("Ada");
  });

  it("refuses a token issued more than a minute in the future, at connect and over auth", async () => {
    const n = await scope.node({ AUTH_SECRET: secret, AUTH_MAX_TOKEN_LIFETIME: "3600" });
    const now = Math.floor(Date.now() / 1000);
    // Valid for one hour, but that hour starts in ten years.
    const ahead = now + 10 * 365 * 24 * 3600;
    const future = () =>
      new SignJWT({ sub: "u1", name: "Ada" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(ahead)
        .setExpirationTime(ahead + 3600)
        .sign(key);
    const c = await SockClient.connect(n.url, { query: `token=${await future()}` });
    scope.defer(() => c.close());
    const err = await c.action("error");
    expect(err.code).toBe("unauthorized");
    expect(String(err.message)).toContain("future");
    expect(await c.waitClosed()).toEqual({ code: 4001, reason: "Unauthorized" });

    // Over auth it must not move a connection's end ten years on: it ends with its first token.
    const ada = await scope.user(n, `token=${await sign({ sub: "u1", name: "Ada" }, now + 3)}`);
    await ada.client.send({ action: "auth", token: await future(), ref: "f" });
    const refused = await ada.client.action("error", (f) => f.ref === "f");
    expect(refused.code).toBe("unauthorized");
    expect(await ada.client.waitClosed(8000)).toEqual({ code: 4005, reason: "Token expired" });
    // A clock a few seconds fast at the issuer is no reason to refuse.
    const skewed = await new SignJWT({ sub: "u2", name: "Bea" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(now + 30)
      .setExpirationTime(now + 30 + 3600)
      .sign(key);
    expect((await scope.user(n, `token=${skewed}`)).name).toBe("Bea");
  });

  it("closes a connection whose token expires with 4005, unless a fresh token came over it", async () => {
    const n = await scope.node({ AUTH_SECRET: secret });
    const expiring = await scope.user(
      n,
      `token=${await sign({ sub: "u-a", name: "Ada" }, Math.floor(Date.now() / 1000) + 2)}`,
    );
    const refreshed = await scope.user(
      n,
      `token=${await sign({ sub: "u-b", name: "Bob" }, Math.floor(Date.now() / 1000) + 2)}`,
    );
    // Handing over another user's token is refused, and changes nothing.
    await refreshed.client.send({ action: "auth", token: await sign({ sub: "u-a", name: "Ada" }, "1h"), ref: "x" });
    expect(await refreshed.client.action("error", (f) => f.ref === "x")).toMatchObject({ code: "forbidden" });
    await refreshed.client.send({ action: "auth", token: await sign({ sub: "u-b", name: "Bob" }, "1h"), ref: "r" });
    await refreshed.client.action("ack", (f) => f.ref === "r");
    expect(await expiring.client.waitClosed(6000)).toEqual({ code: 4005, reason: "Token expired" });
    // Past the first token's end, the refreshed connection still chats.
    expect(await say(refreshed, "still here")).toBeGreaterThan(0);
    expect(refreshed.client.closed).toBeUndefined();
  });

  it("never writes a token to the log", async () => {
    const n = await scope.node({ AUTH_SECRET: secret, ALLOWED_ORIGINS: "https://good.example", LOG_LEVEL: "trace" });
    const tokens = [await sign({ sub: "u1", name: "Ada" }, "1h"), await sign({ sub: "u1", name: "Ada" })];
    for (const token of tokens) {
      const c = await SockClient.connect(n.url, { query: `token=${token}` });
      scope.defer(() => c.close());
      await c.next((f) => f.action === "user_info" || f.action === "error");
      await fetch(`${n.url}/sock/000/t${Math.random()}/xhr?token=${token}`, {
        method: "POST",
        headers: { Origin: "https://evil.example" },
      });
    }
    await n.waitForOutput(/"why":"origin"/);
    for (const token of tokens) expect(n.output()).not.toContain(token.split(".")[2]);
  });
});

describe("a refused connection", () => {
  it("is never seen by anyone: no user_join, no user_left, not in the user list, on any transport", async () => {
    const secret = "a-test-secret-that-is-long-enough-0123456789";
    const n = await scope.node({ AUTH_SECRET: secret });
    const token = await new SignJWT({ sub: "u-ada", name: "Ada" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret));
    const ada = await scope.user(n, `token=${token}`);
    await joinRoom(ada, "lobby");
    for (const transport of ["websocket", "xhr-polling", "xhr-streaming"] as const) {
      const stranger = await SockClient.connect(n.url, { transport });
      scope.defer(() => stranger.close());
      expect(await stranger.waitClosed()).toEqual({ code: 4001, reason: "Unauthorized" });
    }
    const users = await joinRoom(ada, "lobby");
    expect(users.users).toEqual([{ id: ada.id, uid: "u-ada", name: "Ada" }]);
    await say(ada, "marker");
    expect(ada.client.all("user_join")).toEqual([]);
    expect(ada.client.all("user_left")).toEqual([]);
  });
});

describe("replies a request buys", () => {
  it("caps a history page at 100 messages and charges a large page against the rate budget", async () => {
    const n = await scope.node({ RATE_LIMIT: "20", RATE_BURST: "40", FLOOD_CLOSE_AFTER: "1000", HISTORY_SIZE: "100" });
    const writer = await scope.user(n);
    // Within the writer's own burst of 40 (its join took one).
    for (let i = 0; i < 38; i++) await say(writer, `${i} ${"x".repeat(3900)}`);
    const reader = await scope.user(n);
    await reader.client.send({ action: "history", limit: 101, ref: "too-many" });
    expect(await reader.client.action("error", (f) => f.ref === "too-many")).toMatchObject({ code: "bad_request" });
    // Each page of 38 messages of 4 KB (about 150 KB) costs about 19 requests' worth, the join's included:
    // of the 40 requests a burst allows, ten small ones would all be answered, ten such pages are not.
    let answered = 0;
    for (let i = 0; i < 10; i++) {
      const reply = reader.client.waitNew((f) => f.ref === `p${i}`);
      await reader.client.send({ action: "history", ref: `p${i}` });
      if ((await reply).action === "history") answered++;
    }
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThanOrEqual(2);
    expect(reader.client.all("error").filter((e) => e.code === "rate_limited").length).toBe(10 - answered);
  });

  it("charges a page's whole size, however large, and tells the reader how long to wait", async () => {
    const n = await scope.node({
      RATE_LIMIT: "2",
      RATE_BURST: "40",
      FLOOD_CLOSE_AFTER: "1000",
      WRITE_BYTES_PER_USER: "0",
      WRITE_BYTES_PER_IP: "0",
    });
    // 75 messages of 12 KB each (three bytes a character), 25 from each writer within its burst: a page of 900 KB.
    // All in before the room fills, or each joiner would owe the others' messages.
    const writers = [await scope.user(n), await scope.user(n), await scope.user(n)];
    for (const writer of writers) for (let i = 0; i < 25; i++) await say(writer, `${i} ${"中".repeat(3990)}`);
    const reader = await scope.user(n, "lobby=0");
    const joined = await joinRoom(reader, "lobby");
    const page = reader.client.all("history").find((f) => f.ref === joined.ref) as Frame;
    const bytes = Buffer.byteLength(JSON.stringify(page));
    // One request for every 8 KiB, all of it owed: what is left of the burst, less the page, refills at 2 a second.
    const owed = Math.floor(bytes / 8192) - (40 - 1);
    expect(owed).toBeGreaterThan(40);
    await reader.client.send({ action: "history", ref: "again" });
    const refused = await reader.client.action("error", (f) => f.ref === "again");
    expect(refused).toMatchObject({ code: "rate_limited" });
    expect(refused.wait).toBeGreaterThanOrEqual(Math.floor(owed / 2));
    expect(refused.wait).toBeLessThanOrEqual(Math.ceil((owed + 1) / 2) + 1);
    expect(refused.message).toContain(`wait ${refused.wait} s`);
  });

  it("replays at most RECOVERY_MAX messages to a join with since, in history frames of at most 100, on Redis too", async () => {
    const redis = await scope.redis();
    const env = { HISTORY_SIZE: "1000", RECOVERY_MAX: "250", RATE_LIMIT: "0" };
    for (const n of [await scope.node(env), await scope.node({ ...env, REDIS_URL: redis.url })]) {
      const writer = await scope.user(n);
      const room = `r${Math.random().toString(36).slice(2, 8)}`;
      await joinRoom(writer, room);
      const sent: number[] = [];
      for (let i = 1; i <= 300; i++) sent.push(await say(writer, `m${i}`, room));
      const reader = await scope.user(n, "lobby=0");
      /** The history frames of one join, up to the `users` that ends its reply. */
      const replay = async (since: number) => {
        const ref = `since-${since}`;
        await reader.client.send({ action: "join", room, since, ref });
        await reader.client.action("users", (f) => f.ref === ref);
        return reader.client.all("history").filter((f) => f.ref === ref);
      };
      const far = await replay(0);
      expect(far.map((f) => (f.messages as Frame[]).length)).toEqual([100, 100, 50]);
      // The newest 250, oldest first and each once; the first frame says some are missing and older ones are stored.
      expect(far.flatMap((f) => (f.messages as Frame[]).map((m) => m.mid))).toEqual(sent.slice(50));
      expect(far.map((f) => f.recovered)).toEqual([false, true, true]);
      expect(far[0]).toMatchObject({ more: true, top: 300 });
      const near = await replay(280);
      expect(near).toHaveLength(1);
      expect(near[0]).toMatchObject({ recovered: true, more: false });
      expect(((near[0] as Frame).messages as Frame[]).map((m) => m.mid)).toEqual(sent.slice(280));
      const older = reader.client.waitNew((f) => f.ref === "older");
      await reader.client.send({ action: "history", room, before: 51, ref: "older" });
      expect(((await older).messages as Frame[]).map((m) => m.mid)).toEqual(sent.slice(0, 50));
    }
  });

  it("answers a history page before mid 1 with bad_request, on Redis too, and logs no error", async () => {
    const redis = await scope.redis();
    for (const n of [await scope.node({}), await scope.node({ REDIS_URL: redis.url })]) {
      const u = await scope.user(n);
      await u.client.send({ action: "history", before: 0, ref: "zero" });
      expect(await u.client.action("error", (f) => f.ref === "zero")).toMatchObject({ code: "bad_request" });
      await u.client.send({ action: "history", before: 1, ref: "one" });
      expect(await u.client.action("history", (f) => f.ref === "one")).toMatchObject({ messages: [], more: false });
      expect(n.output()).not.toMatch(/"level":(50|60)/);
    }
  });
});

describe("names", () => {
  it("normalises names, refuses invisible, blank and reserved ones, and one already in use in a room", async () => {
    const n = await scope.node({});
    const a = await scope.user(n);
    const b = await scope.user(n);
    const nick = async (u: User, name: string) => {
      const ref = `n-${Math.random()}`;
      await u.client.send({ action: "nick", name, ref });
      return u.client.next((f) => f.ref === ref);
    };
    for (const name of [
      "alice\u00ad",
      "alice\u034f",
      "\u3164",
      "\u2800\u2800",
      "ali\u200dce",
      "You",
      "ｙｏｕ",
      "evil\u202eecila",
      " \u0301 ",
    ]) {
      expect(await nick(a, name), JSON.stringify(name)).toMatchObject({ action: "error", code: "bad_name" });
    }
    expect(await nick(a, "Ａｌｉｃｅ  Smith")).toMatchObject({ action: "ack" });
    await b.client.action("user_renamed", (f) => f.id === a.id && f.name === "Alice Smith");
    for (const taken of ["alice smith", "ALICE SMITH", "Ａｌｉｃｅ Smith"]) {
      expect(await nick(b, taken), taken).toMatchObject({ action: "error", code: "name_taken" });
    }
    expect(await nick(b, "Bob")).toMatchObject({ action: "ack" });
  });
});

describe("Redis refusing writes", () => {
  it("keeps the nodes up while Redis is out of memory and users come, talk and go, and says so", async () => {
    const redis = await scope.redis(["--maxmemory-policy", "noeviction"]);
    const env = { REDIS_URL: redis.url, PRESENCE_TTL: "2" };
    const a = await scope.node(env);
    const b = await scope.node(env);
    const alice = await scope.user(a);
    const bob = await scope.user(b);
    await say(alice, "before the memory ran out");
    const admin = new Redis(redis.url);
    scope.defer(() => admin.disconnect());
    // Any limit under what Redis holds already: every write that needs memory is refused with OOM.
    await admin.config("SET", "maxmemory", "1");
    const started = Date.now();
    // Three presence TTLs of users coming, talking and going on both nodes.
    while (Date.now() - started < 6000) {
      const carol = await scope.user(Math.random() < 0.5 ? a : b);
      await carol.client.send({ action: "message", message: "while Redis is full", ref: "full" });
      expect(await carol.client.action("error", (f) => f.ref === "full")).toMatchObject({ code: "unavailable" });
      await carol.client.send({ action: "nick", name: `Carol ${Date.now()}`, ref: "nick" });
      await carol.client.next((f) => f.ref === "nick");
      carol.client.close();
    }
    for (const n of [a, b]) {
      expect(n.child.exitCode).toBeNull();
      expect((await fetch(`${n.url}/healthz`)).status).toBe(200);
      await n.waitForOutput(/Redis refused/);
      const metrics = await n.metrics();
      expect(metrics).toMatch(/chat_errors_total\{code="unavailable"\} [1-9]/);
    }
    await admin.config("SET", "maxmemory", "0");
    expect(await say(alice, "after Redis has room again")).toBeGreaterThan(0);
    // Nobody was taken for dead because heartbeats could not be written, then or after.
    await new Promise((r) => setTimeout(r, 3000));
    expect(bob.client.all("user_left").filter((f) => f.id === alice.id)).toEqual([]);
    expect(alice.client.all("user_left").filter((f) => f.id === bob.id)).toEqual([]);
    for (const n of [a, b]) expect(n.output()).not.toMatch(/"level":60|unhandled rejection/);
  }, 60_000);
});
