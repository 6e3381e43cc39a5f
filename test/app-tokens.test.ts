/**
 * Tokens from an embedding app (issue 22): signed with the app's own
 * private key, checked with its public key (AUTH_PUBLIC_KEY) or its
 * published keys (AUTH_JWKS_URL), so the chat never holds what signs; and
 * in Chromium, the web client getting its token from AUTH_TOKEN_URL with
 * the browser's cookies and renewing it before it ends, without a reconnect,
 * on the embedded engine and on two nodes with Redis.
 */
import http from "node:http";
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, closePage, currentRoom, launchBrowser, newPage, roomMessages } from "./support/browser.js";
import { allocatePort } from "./support/ports.js";
import { perTest } from "./support/scope.js";
import { SockClient } from "./support/sockjs-client.js";

const scope = perTest();

type Alg = "RS256" | "ES256" | "EdDSA";

async function appKeys(alg: Alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const sign = (claims: Record<string, unknown>, seconds: number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, kid: "app-1" })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
      .sign(privateKey);
  return { sign, pem: await exportSPKI(publicKey), jwk: { ...(await exportJWK(publicKey)), kid: "app-1", alg } as JWK };
}

/** A client of the protocol that gives its token in the first frame; `first` is what the server answered. */
async function signedIn(base: string, token: string) {
  const client = await SockClient.connect(base, { query: "proto=2&lobby=0&auth=first" });
  scope.defer(() => client.close());
  await client.send({ action: "auth", token });
  return { client, first: await client.next((f) => f.action === "user_info" || f.action === "error") };
}

async function firstFrame(base: string, token: string) {
  return (await signedIn(base, token)).first;
}

/** The embedding app: its keys at /jwks, and at /token a token for whoever has its session cookie. */
async function startApp(keys: Awaited<ReturnType<typeof appKeys>>, chatOrigin: () => string, seconds: number) {
  const port = await allocatePort();
  const served: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = http.createServer(async (req, res) => {
    res.setHeader("Access-Control-Allow-Origin", chatOrigin());
    res.setHeader("Access-Control-Allow-Credentials", "true");
    if (req.url === "/jwks") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ keys: [keys.jwk] }));
      return;
    }
    if (req.url === "/token" && /app_session=ada/.test(req.headers.cookie ?? "")) {
      const token = await keys.sign({ sub: "app-ada", name: "Ada (app)" }, seconds);
      served.push(token);
      for (const w of waiters.filter((x) => served.length >= x.count)) w.resolve();
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ token }));
      return;
    }
    res.statusCode = 401;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    /** Resolves once the app has handed out `count` tokens. */
    servedAtLeast: (count: number) =>
      new Promise<void>((resolve) => {
        if (served.length >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
}

describe("the app's public key", () => {
  for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
    it(`takes ${alg} tokens by AUTH_PUBLIC_KEY, and refuses a forged one and the key used as an HS256 secret`, async () => {
      const keys = await appKeys(alg);
      const n = await scope.node({ AUTH_PUBLIC_KEY: keys.pem });
      expect(await firstFrame(n.url, await keys.sign({ sub: "u1", name: "Ada" }, 300))).toMatchObject({
        action: "user_info",
        uid: "u1",
        name: "Ada",
      });
      const other = await appKeys(alg);
      const forged = await firstFrame(n.url, await other.sign({ sub: "u1", name: "Ada" }, 300));
      expect(forged).toMatchObject({ action: "error", code: "unauthorized" });
      const confused = await new SignJWT({ sub: "u1", name: "Ada" })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(keys.pem));
      expect(await firstFrame(n.url, confused)).toMatchObject({ action: "error", code: "unauthorized" });
      // And the old way, in the URL, for the original page and older clients.
      const old = await SockClient.connect(n.url, {
        query: `token=${await keys.sign({ sub: "u2", name: "Grace" }, 300)}`,
      });
      scope.defer(() => old.close());
      expect(await old.action("user_info")).toMatchObject({ uid: "u2", name: "Grace" });
    });
  }

  it("takes tokens by the keys the app publishes (AUTH_JWKS_URL)", async () => {
    const keys = await appKeys("ES256");
    const app = await startApp(keys, () => "null", 300);
    const n = await scope.node({ AUTH_JWKS_URL: `${app.url}/jwks` });
    expect(await firstFrame(n.url, await keys.sign({ sub: "u1", name: "Ada" }, 300))).toMatchObject({
      action: "user_info",
      uid: "u1",
    });
    const other = await appKeys("ES256");
    expect(await firstFrame(n.url, await other.sign({ sub: "u1", name: "Ada" }, 300))).toMatchObject({
      action: "error",
      code: "unauthorized",
    });
  });
});

describe("the web client in an embedding app", { timeout: BROWSER_TEST_MS }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** The page's node, and the node of someone else in the lobby: the same one, or two on one Redis. */
  const SETUPS = [
    [
      "on the embedded engine",
      async (env: Record<string, string>) => {
        const n = await scope.node(env);
        return [n, n] as const;
      },
    ],
    [
      "on Redis with two nodes",
      async (env: Record<string, string>) => {
        const redis = await scope.redis();
        return [
          await scope.node({ REDIS_URL: redis.url, ...env }),
          await scope.node({ REDIS_URL: redis.url, ...env }),
        ] as const;
      },
    ],
  ] as const;

  describe.each(SETUPS)("%s", (_, nodes) => {
    it("gets its token from AUTH_TOKEN_URL with the app's cookie, and renews it before it ends without reconnecting", async () => {
      const keys = await appKeys("ES256");
      let chat = "";
      // Tokens of 10 s: the page renews each halfway through what is left.
      const app = await startApp(keys, () => chat, 10);
      const [n, other] = await nodes({ AUTH_JWKS_URL: `${app.url}/jwks`, AUTH_TOKEN_URL: `${app.url}/token` });
      chat = n.url;
      const page = await newPage(browser);
      scope.defer(() => closePage(page));
      await page.context().addCookies([{ name: "app_session", value: "ada", url: app.url }]);
      await page.goto(`${n.url}/`);
      await page.locator('body[data-state="online"]').waitFor();
      await currentRoom(page, "lobby").waitFor();
      expect(await page.locator("#users .me .user-name").textContent()).toBe("Ada (app)");
      expect(await page.url()).not.toMatch(/token/);

      // The fourth token comes after the first has ended: the connection lived on the renewals.
      await app.servedAtLeast(4);
      const firstExp = JSON.parse(Buffer.from(app.served[0]?.split(".")[1] ?? "", "base64url").toString()).exp;
      expect(Date.now() / 1000).toBeGreaterThan(firstExp);
      expect(await page.locator("body").getAttribute("data-state")).toBe("online");
      expect(n.output().match(/connection opened/g)).toHaveLength(1);
      expect(n.output()).not.toMatch(/token_expired/);

      // Someone on the other node finds Ada in the lobby still, and she reads what they say there.
      const bea = await signedIn(other.url, await keys.sign({ sub: "app-bea", name: "Bea (app)" }, 300));
      expect(bea.first).toMatchObject({ action: "user_info", name: "Bea (app)" });
      await bea.client.send({ action: "join", room: "lobby", ref: "join" });
      const present = await bea.client.next((f) => f.action === "users" && f.ref === "join");
      expect((present.users as { name: string }[]).map((u) => u.name)).toContain("Ada (app)");
      await bea.client.send({ action: "message", room: "lobby", message: "still there, Ada?" });
      await roomMessages(page, "still there, Ada?").waitFor();
    }, 60_000);
  });
});
