/**
 * The web client's reconnects, in Chromium (issue 22: with a refused token
 * it knocked twice a second, stacking notices). Whatever ends the link, a
 * refused token (4001), one that expired (4005), a node going away (4000), too many connections
 * (4004) or a proxy dropping every
 * connection as soon as it is open, the page tries again with a back-off
 * that doubles, or not at all when trying again cannot help; and it shows
 * at most one notice for it.
 */
import http from "node:http";
import { SignJWT } from "jose";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, browserPerFile, currentRoom, enterRoom, roomMessages } from "../support/browser.js";
import { connectUser, joinRoom, say } from "../support/chat.js";
import { startNode } from "../support/processes.js";
import { perTest } from "../support/scope.js";
import { startRelay } from "../support/tcp-relay.js";

const scope = perTest();
const chromium = browserPerFile();
/** Long enough for a back-off to show: tries at 0.25+, 0.75+, 1.75+ and 3.75+ s are the most it allows. */
const WATCH_MS = 6000;
/**
 * At most this many tries in WATCH_MS. The back-off allows four; one more for a
 * try under way when the watch starts. The loop of issue 22 made twelve.
 */
const MOST_TRIES = 5;
const POLL = { timeout: 15_000 };
const SECRET = "a-test-secret-that-is-long-enough-0123456789";

/** Counts the connections the page starts from now on: each begins with SockJS's `/info`. */
function countTries(page: Page): () => number {
  let tries = 0;
  page.on("request", (req) => {
    if (new URL(req.url()).pathname.endsWith("/sock/info")) tries += 1;
  });
  return () => tries;
}

const notices = (page: Page) => page.locator("#notices .notice");

async function online(page: Page): Promise<void> {
  await page.locator('body[data-state="online"]').waitFor(POLL);
  await currentRoom(page, "lobby").waitFor(POLL);
}

/** An embedding app whose token endpoint answers `token()` to any page of `origin()`; 401 while it gives none. */
async function tokenApp(token: () => Promise<string | undefined>, origin: () => string): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.setHeader("Access-Control-Allow-Origin", origin());
    res.setHeader("Access-Control-Allow-Credentials", "true");
    token().then((t) => {
      res.statusCode = t === undefined ? 401 : 200;
      res.end(t ?? "signed out");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
}

describe("the web client's reconnects, whatever the close code", { timeout: BROWSER_TEST_MS }, () => {
  it("a refused token (4001): the sign-in page, one notice at most, and no knocking", async () => {
    let origin = "";
    const tokenUrl = await tokenApp(
      async () => "not.a-valid.token",
      () => origin,
    );
    const n = await scope.node({ AUTH_SECRET: SECRET, AUTH_TOKEN_URL: tokenUrl });
    origin = n.url;
    const page = await chromium.open(`${n.url}/`);
    await page.locator("#signin-form").waitFor(POLL);
    await n.waitForOutput(/connection opened/);
    await page.waitForTimeout(WATCH_MS);
    // The one connection that brought the token, and none after it.
    expect(n.output().match(/connection opened/g)).toHaveLength(1);
    expect(await page.locator("body").getAttribute("data-state")).toBe("offline");
    expect(await notices(page).count()).toBeLessThanOrEqual(1);
  });

  it("a token that expires (4005) after the app signed the person out: the sign-in page, once, and no knocking", async () => {
    let origin = "";
    let signedIn = true;
    // Tokens of 3 s; once the app has signed the person out, its endpoint answers 401 and the renewal gets none.
    const tokenUrl = await tokenApp(
      async () =>
        signedIn
          ? new SignJWT({ name: "Ada" })
              .setProtectedHeader({ alg: "HS256" })
              .setSubject("ada")
              .setExpirationTime(Math.floor(Date.now() / 1000) + 3)
              .sign(new TextEncoder().encode(SECRET))
          : undefined,
      () => origin,
    );
    const n = await scope.node({ AUTH_SECRET: SECRET, AUTH_TOKEN_URL: tokenUrl });
    origin = n.url;
    const page = await chromium.open(`${n.url}/`);
    await online(page);
    signedIn = false;
    await n.waitForOutput(/closing a connection whose token expired/, 15_000);
    await page.locator("#signin-form").waitFor(POLL);
    expect(await page.locator("#auth-message").textContent()).toBe("Your sign-in has ended. Sign in again to go on.");
    await page.waitForTimeout(WATCH_MS);
    expect(n.output().match(/connection opened/g)).toHaveLength(1);
    expect(await page.locator("body").getAttribute("data-state")).toBe("offline");
    expect(await notices(page).count()).toBeLessThanOrEqual(1);
  });

  it("a node that goes away (4000) is tried again with a back-off, and the page comes back when it does", async () => {
    const first = await startNode({}, "reserved");
    scope.defer(() => first.stop());
    const page = await chromium.open(`${first.url}/`);
    await online(page);
    const tries = countTries(page);
    await first.stop();
    await page.locator('body[data-state="offline"]').waitFor(POLL);
    await page.waitForTimeout(WATCH_MS);
    expect(tries()).toBeGreaterThanOrEqual(1);
    expect(tries()).toBeLessThanOrEqual(MOST_TRIES);
    expect(await notices(page).count()).toBeLessThanOrEqual(1);

    // Back on the same address: the page finds it by itself (the next try is at most 30 s away).
    await scope.node({}, first.port);
    await page.locator('body[data-state="online"]').waitFor({ timeout: 40_000 });
  });

  it("too many connections from this address (4004): tried again with a back-off, its refusal shown once", async () => {
    const n = await scope.node({ MAX_CONNECTIONS_PER_IP: "1" });
    const first = await chromium.open(`${n.url}/`);
    await online(first);
    const second = await chromium.open(`${n.url}/`);
    const tries = countTries(second);
    await n.waitForOutput(/too_many_connections/);
    await second.waitForTimeout(WATCH_MS);
    expect(tries()).toBeGreaterThanOrEqual(1);
    expect(tries()).toBeLessThanOrEqual(MOST_TRIES);
    // Each try is refused alike; the page says so once, not once a try.
    await notices(second).first().waitFor(POLL);
    expect(await notices(second).count()).toBe(1);
    expect(await first.locator("body").getAttribute("data-state")).toBe("online");
  });

  it("a proxy that drops each connection as soon as it is open: the back-off keeps doubling", async () => {
    const n = await scope.node();
    const relay = await startRelay(n.port);
    scope.defer(() => relay.close());
    const page = await chromium.open(`${relay.url}/`);
    await online(page);
    const tries = countTries(page);
    const watchEnd = Date.now() + WATCH_MS;
    // Each connection is taken by the server (its user_info comes) and cut a moment later.
    while (Date.now() < watchEnd) {
      relay.cut();
      await page.waitForTimeout(150);
    }
    expect(tries()).toBeGreaterThanOrEqual(1);
    expect(tries()).toBeLessThanOrEqual(MOST_TRIES);
    expect(await notices(page).count()).toBeLessThanOrEqual(1);
    // Left alone, it comes back.
    await page.locator('body[data-state="online"]').waitFor({ timeout: 40_000 });
  });
});

describe("the web client's joins while Redis is away", { timeout: 2 * BROWSER_TEST_MS }, () => {
  it("rejoins a room refused for now once Redis is back, with what was said while the page was away, in order", async () => {
    // Kept on disk, so that Redis back holds what was said before it went.
    const redis = await scope.redis(["--appendonly", "yes"]);
    const n = await scope.node({ REDIS_URL: redis.url, RATE_LIMIT: "0" });
    const relay = await startRelay(n.port);
    scope.defer(() => relay.close());
    const page = await chromium.open(`${relay.url}/`);
    await online(page);
    await enterRoom(page, "weather");
    const writer = await connectUser(n.url, { query: "lobby=0" });
    scope.defer(() => writer.client.close());
    await joinRoom(writer, "weather");
    await say(writer, "sunny at noon", "weather");
    await roomMessages(page, "sunny at noon").waitFor(POLL);

    // The page loses its link; the room goes on without it, then Redis goes away.
    relay.set("silent");
    relay.cut();
    await page.locator('body[data-state="offline"]').waitFor(POLL);
    await say(writer, "rain at two", "weather");
    await say(writer, "hail at three", "weather");
    await redis.stop();
    relay.set("pass");
    // Back on its node, the page's join is refused for now: it says so, once, and tries again.
    await page.locator('body[data-state="online"]').waitFor({ timeout: 40_000 });
    const refused = notices(page).filter({ hasText: "#weather cannot be loaded right now; trying again." });
    await refused.waitFor(POLL);

    await redis.restart();
    // Once the node can store again; a try refused meanwhile is shown as it went, to whoever is on this node.
    const stored = () =>
      say(writer, "is anyone there?", "weather").then(
        () => true,
        () => false,
      );
    await expect.poll(stored, POLL).toBe(true);
    // It may come before the page's next try: it is not shown before the two.
    await say(writer, "clear by four", "weather");
    await roomMessages(page, "clear by four").waitFor({ timeout: 40_000 });
    const texts = await page.locator("#messages .msg .text").allTextContents();
    expect(texts.filter((t) => /at noon|at two|at three|by four/.test(t))).toEqual([
      "sunny at noon",
      "rain at two",
      "hail at three",
      "clear by four",
    ]);
    expect(await refused.count()).toBe(1);
  });
});
