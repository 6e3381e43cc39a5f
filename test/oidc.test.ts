/**
 * Single sign-on through OpenID Connect (issue 22 item 2), against a real
 * provider (oidc-provider) in this process and the chat as real processes:
 * the full code flow, and the callbacks an attacker would try — another
 * person's (a forged state), one used already (a replayed code), an ID
 * token minted for another client (another audience) or for another
 * sign-in (another nonce).
 */

import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AccountClient } from "./support/accounts.js";
import { RedirectingClient, TestProvider } from "./support/oidc-provider.js";
import { allocatePort } from "./support/ports.js";
import { startPostgres } from "./support/postgres.js";
import { runToExit } from "./support/processes.js";
import { perTest } from "./support/scope.js";

const scope = perTest();
const CHAT = { id: "chat", secret: "chat-client-secret-0123456789" };
const OTHER = { id: "other-app", secret: "other-client-secret-0123456789", redirect: "http://127.0.0.1:9/callback" };

/** A provider and a chat node (on the embedded archive, unless `env` says otherwise) that trusts it. */
async function setUp(env: Record<string, string> = {}, redirectPort?: number) {
  const port = await allocatePort();
  const redirect = `http://127.0.0.1:${redirectPort ?? port}/auth/oidc/callback`;
  const provider = await TestProvider.start([
    { ...CHAT, redirect: [redirect] },
    { id: OTHER.id, secret: OTHER.secret, redirect: [OTHER.redirect] },
  ]);
  scope.defer(() => provider.close());
  const oidcEnv = {
    OIDC_ISSUER: provider.issuer,
    OIDC_CLIENT_ID: CHAT.id,
    OIDC_CLIENT_SECRET: CHAT.secret,
    OIDC_REDIRECT_URL: redirect,
  };
  let base = env;
  if (!env.REDIS_URL && !env.DATABASE_URL) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-oidc-"));
    scope.defer(() => rmSync(dataDir, { recursive: true, force: true }));
    base = { DATA_DIR: dataDir, ...env };
  }
  const node = await scope.node({ ...base, ...oidcEnv }, port);
  return { provider, node, oidcEnv, redirect };
}

/**
 * Two chat nodes on one Redis that trust one provider, reached as one site:
 * a sign-in starts on `a`, and the provider sends the browser back to `b`.
 */
async function setUpTwoNodes() {
  const redis = await scope.redis();
  const portB = await allocatePort();
  const { node: a, provider, oidcEnv, redirect } = await setUp({ REDIS_URL: redis.url }, portB);
  const b = await scope.node({ REDIS_URL: redis.url, ...oidcEnv }, portB);
  return { a, b, provider, redirect, browser: () => new RedirectingClient([a.url, b.url]) };
}

/** Where a sign-in starts (`start`) and where its callback lands (`back`): the same node, or two on Redis. */
const SETUPS = [
  [
    "on the embedded archive",
    async () => {
      const { node, provider, redirect } = await setUp();
      return { start: node, back: node, provider, redirect, browser: () => new RedirectingClient() };
    },
  ],
  [
    "on Redis with two nodes, the callback on the other node",
    async () => {
      const { a, b, provider, redirect, browser } = await setUpTwoNodes();
      return { start: a, back: b, provider, redirect, browser };
    },
  ],
] as const;

/** Goes from the chat's "Continue with…" through the provider, stopping before the chat's callback. */
async function toCallback(browser: RedirectingClient, chat: string, redirect: string): Promise<string> {
  const { url } = await browser.follow(`${chat}/auth/oidc/start`, (next) => next.startsWith(redirect));
  expect(url.startsWith(`${redirect}?`)).toBe(true);
  return url;
}

async function whoIs(browser: RedirectingClient, chat: string): Promise<{ name: string; uid: string } | null> {
  const state = await browser.get(`${chat}/auth/state`);
  return (JSON.parse(state.body) as { account: { name: string; uid: string } | null }).account;
}

/**
 * A genuine ID token from the provider for `client`, for whoever the provider
 * signs in now and with `nonce`: a code flow run by hand, its code taken
 * before `client.redirect` sees it and exchanged at the token endpoint.
 */
async function mintIdToken(
  browser: RedirectingClient,
  issuer: string,
  client: { id: string; secret: string; redirect: string },
  nonce: string,
): Promise<string> {
  const verifier = randomBytes(32).toString("base64url");
  const auth = new URL(`${issuer}/auth`);
  for (const [k, v] of Object.entries({
    client_id: client.id,
    response_type: "code",
    scope: "openid profile",
    redirect_uri: client.redirect,
    state: "s",
    nonce,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  })) {
    auth.searchParams.set(k, v);
  }
  const { url: callback } = await browser.follow(auth.href, (next) => next.startsWith(client.redirect));
  const code = new URL(callback).searchParams.get("code") ?? "";
  const token = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: client.redirect,
      code_verifier: verifier,
    }),
  });
  const { id_token: idToken } = (await token.json()) as { id_token: string };
  expect(idToken).toBeTypeOf("string");
  return idToken;
}

describe("single sign-on through an OpenID provider", () => {
  it("signs a person in by the code flow, names them from the claims, and knows them again by their subject", async () => {
    const { node, provider, redirect } = await setUp({ SIGNUP: "open" });
    const page = await new AccountClient(node.url).state();
    expect(page.body.oidc).toEqual({ name: "127.0.0.1" });

    // A local account already holds the name the provider gives the second person.
    const bob = new AccountClient(node.url);
    const bobUp = await bob.post("/auth/signup", { name: "Bob", password: "correct horse battery staple" });
    expect(bobUp.status).toBe(200);

    const alice = new RedirectingClient();
    const callback = await toCallback(alice, node.url, redirect);
    const landed = await alice.get(callback);
    expect([landed.status, landed.location]).toEqual([303, `${node.url}/`]);
    const account = await whoIs(alice, node.url);
    expect(account?.name).toBe("Alice");

    // Her session is a session like a password's: it gets her a ticket, and the ticket gets her into the chat.
    const chat = new AccountClient(node.url);
    chat.cookies.set("chat_session", alice.cookie(node.url, "chat_session") ?? "");
    const connected = await chat.connect();
    scope.defer(() => connected.client.close());
    expect(connected.first).toMatchObject({ action: "user_info", uid: account?.uid, name: "Alice" });

    // She renames herself at the provider: still the same account, by (issuer, subject).
    provider.signInAs = { sub: "alice-sub", preferred_username: "Alice Cooper" };
    const again = new RedirectingClient();
    await again.get(await toCallback(again, node.url, redirect));
    expect(await whoIs(again, node.url)).toMatchObject({ uid: account?.uid, name: "Alice" });

    // Another person whose provider name is a local account's is asked to choose a name, never given that account.
    provider.signInAs = { sub: "bob-at-provider", preferred_username: "bob" };
    const otherBob = new RedirectingClient();
    const toChoose = await otherBob.get(await toCallback(otherBob, node.url, redirect));
    expect([toChoose.status, toChoose.location]).toEqual([303, `${node.url}/`]);
    expect(otherBob.cookie(node.url, "chat_session")).toBeUndefined();
    const naming = new AccountClient(node.url);
    naming.cookies.set("chat_oidc_name", otherBob.cookie(node.url, "chat_oidc_name") ?? "");
    const asked = await naming.state();
    expect(asked.body).toMatchObject({ account: null, chooseName: { suggested: "bob" } });

    // Choosing is a form post like sign-up: CSRF-checked, and held to the same names.
    const forged = await naming.request("POST", "/auth/oidc/name", { name: "Robert" });
    expect([forged.status, forged.body.error?.code]).toEqual([403, "forbidden"]);
    expect((await naming.post("/auth/oidc/name", { name: "BOB" })).body.error?.code).toBe("name_taken");
    expect((await naming.post("/auth/oidc/name", { name: "User #12" })).body.error?.code).toBe("bad_name");
    const chosen = await naming.post("/auth/oidc/name", { name: "Robert" });
    expect(chosen.status).toBe(200);
    expect(chosen.body.account).toMatchObject({ name: "Robert", admin: false });
    const robertUid = (chosen.body.account as { uid: string }).uid;
    expect(robertUid).not.toBe((bobUp.body.account as { uid: string }).uid);
    expect((await naming.state()).body).toMatchObject({ account: { name: "Robert" }, chooseName: null });
    expect(naming.cookies.has("chat_oidc_name")).toBe(false);

    // The next sign-in through the provider goes straight in as Robert.
    const later = new RedirectingClient();
    expect((await later.get(await toCallback(later, node.url, redirect))).status).toBe(303);
    expect(await whoIs(later, node.url)).toMatchObject({ uid: robertUid, name: "Robert" });
    expect(later.cookie(node.url, "chat_oidc_name")).toBeUndefined();
  });

  it("a name to choose comes only with a cookie the chat signed, and names an account once", async () => {
    const { node, provider, redirect } = await setUp({ SIGNUP: "open" });
    await new AccountClient(node.url).post("/auth/signup", { name: "Alice", password: "correct horse battery staple" });
    const tab = new RedirectingClient();
    await tab.get(await toCallback(tab, node.url, redirect));
    const held = tab.cookie(node.url, "chat_oidc_name") ?? "";
    expect(held).not.toBe("");

    // Without the cookie, or with one whose identity was changed, there is nobody to name.
    const stranger = new AccountClient(node.url);
    const bare = await stranger.post("/auth/oidc/name", { name: "Mallory" });
    expect([bare.status, bare.body.error?.code]).toEqual([401, "unauthorized"]);
    const [head = "", , signature = ""] = held.split(".");
    const claims = Buffer.from(JSON.stringify({ i: provider.issuer, s: "someone-else", n: "x", exp: 9e9 })).toString(
      "base64url",
    );
    stranger.cookies.set("chat_oidc_name", `${head}.${claims}.${signature}`);
    expect((await stranger.state()).body.chooseName).toBeNull();
    expect((await stranger.post("/auth/oidc/name", { name: "Mallory" })).status).toBe(401);

    // Two tabs of the newcomer choose at once: one account; a tab that loses the race is signed in to it, or told to try again.
    const tabs = [new AccountClient(node.url), new AccountClient(node.url)];
    for (const t of tabs) t.cookies.set("chat_oidc_name", held);
    const answers = await Promise.all(tabs.map((t, i) => t.post("/auth/oidc/name", { name: `Alice ${i + 2}` })));
    const made = answers.filter((a) => a.status === 200).map((a) => a.body.account as { uid: string; name: string });
    expect(made.length).toBeGreaterThan(0);
    expect(new Set(made.map((a) => a.uid)).size).toBe(1);
    for (const a of answers) if (a.status !== 200) expect(a.body.error?.code).toBe("unauthorized");
    expect(["Alice 2", "Alice 3"]).toContain(made[0]?.name);
  });

  it("two first sign-ins of one person at once make one account", async () => {
    const { node, provider, redirect } = await setUp();
    const tabs = [new RedirectingClient(), new RedirectingClient()];
    const callbacks = await Promise.all(tabs.map((t) => toCallback(t, node.url, redirect)));
    const landed = await Promise.all(tabs.map((t, i) => t.get(callbacks[i] ?? "")));
    const signedIn = tabs.filter((_, i) => landed[i]?.status === 303);
    expect(signedIn.length).toBeGreaterThan(0);
    const uids = new Set(await Promise.all(signedIn.map(async (t) => (await whoIs(t, node.url))?.uid)));
    expect(uids.size).toBe(1);
    // The one account holds the name: another person claiming it is asked to choose.
    provider.signInAs = { sub: "another-alice", preferred_username: "alice" };
    const other = new RedirectingClient();
    await other.get(await toCallback(other, node.url, redirect));
    expect(await whoIs(other, node.url)).toBeNull();
    expect(other.cookie(node.url, "chat_oidc_name")).toBeDefined();
  });

  describe.each(SETUPS)("%s", (_, setUpOn) => {
    it("refuses a callback that carries someone else's sign-in (a forged state)", async () => {
      const { start, back, provider, redirect, browser } = await setUpOn();
      // The attacker signs in at the provider as themselves and keeps the callback, to plant it on the victim.
      provider.signInAs = { sub: "mallory-sub", preferred_username: "Mallory" };
      const mallory = browser();
      const planted = await toCallback(mallory, start.url, redirect);

      // The victim's browser has a sign-in of its own under way, and is sent to the attacker's callback.
      provider.signInAs = { sub: "victim-sub", preferred_username: "Victim" };
      const victim = browser();
      await toCallback(victim, start.url, redirect);
      const refused = await victim.get(planted);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatch(/Sign-in refused[\s\S]*&#34;state&#34;/);
      expect(victim.cookie(back.url, "chat_session")).toBeUndefined();
      for (const node of [start, back]) expect(await whoIs(victim, node.url)).toBeNull();

      // With no sign-in under way at all, the same: nothing to match the state against.
      const fresh = browser();
      const bare = await fresh.get(planted);
      expect(bare.status).toBe(401);
      expect(await whoIs(fresh, back.url)).toBeNull();
    });

    it("refuses a code used once already, even with the pending sign-in's cookie kept", async () => {
      const { start, back, redirect, browser } = await setUpOn();
      const alice = browser();
      const callback = await toCallback(alice, start.url, redirect);
      const pending = alice.cookie(start.url, "chat_oidc") ?? "";
      expect(pending).not.toBe("");
      expect((await alice.get(callback)).status).toBe(303);

      // The replay goes to the node the callback names, and, on two nodes, to the one the sign-in started on.
      for (const node of new Set([back, start])) {
        const thief = browser();
        const replayed = await thief.get(callback.replace(back.url, node.url), { chat_oidc: pending });
        expect(replayed.status).toBe(401);
        expect(replayed.body).toMatch(/Sign-in refused[\s\S]*\(invalid_grant\)/);
        expect(thief.cookie(node.url, "chat_session")).toBeUndefined();
        expect(await whoIs(thief, node.url)).toBeNull();
      }
    });
  });

  it("refuses another browser's code under one's own sign-in (PKCE: the wrong verifier), and a verifier tampered with in the cookie", async () => {
    const { node, provider, redirect } = await setUp();
    provider.signInAs = { sub: "alice-sub", preferred_username: "Alice" };
    const alice = new RedirectingClient();
    const stolen = new URL(await toCallback(alice, node.url, redirect));

    // Mallory starts a sign-in of her own, so that state and cookie match, and brings Alice's code to it:
    // the chat exchanges the code with Mallory's verifier, which the provider refuses.
    const mallory = new RedirectingClient();
    const start = await mallory.get(`${node.url}/auth/oidc/start`);
    const injected = new URL(stolen);
    injected.searchParams.set("state", new URL(start.location ?? "").searchParams.get("state") ?? "");
    const refused = await mallory.get(injected.href);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatch(/Sign-in refused[\s\S]*\(invalid_grant\)/);
    expect(provider.grantRefusals).toEqual(["PKCE verification failed"]);
    expect(mallory.cookie(node.url, "chat_session")).toBeUndefined();
    expect(await whoIs(mallory, node.url)).toBeNull();

    // Alice's own cookie, its verifier changed: it no longer carries the chat's signature.
    const pending = alice.cookie(node.url, "chat_oidc") ?? "";
    const [head = "", body = "", signature = ""] = pending.split(".");
    const claims = JSON.parse(Buffer.from(body, "base64url").toString()) as { v: string };
    expect(claims.v.length).toBeGreaterThanOrEqual(43);
    const tampered = Buffer.from(JSON.stringify({ ...claims, v: randomBytes(32).toString("base64url") })).toString(
      "base64url",
    );
    const forged = await alice.get(stolen.href, { chat_oidc: `${head}.${tampered}.${signature}` });
    expect(forged.status).toBe(401);
    expect(forged.body).toMatch(/Sign-in refused/);
    expect(await whoIs(alice, node.url)).toBeNull();
  });

  it("refuses an ID token the provider minted for another client (another audience)", async () => {
    const { node, provider, redirect } = await setUp();
    const alice = new RedirectingClient();
    // The chat sends her to the provider: its nonce is what a swapped token must carry to pass all but the audience.
    const toProvider = await alice.get(`${node.url}/auth/oidc/start`);
    const nonce = new URL(toProvider.location ?? "").searchParams.get("nonce") ?? "";
    expect(nonce).not.toBe("");

    // A genuine ID token for the same person and nonce, minted for another app at the same provider.
    provider.swapIdToken = await mintIdToken(alice, provider.issuer, OTHER, nonce);
    const { url: callback } = await alice.follow(toProvider.location ?? "", (next) => next.startsWith(redirect));
    const refused = await alice.get(callback);
    expect(provider.swapIdToken).toBeUndefined();
    expect(refused.status).toBe(401);
    expect(refused.body).toMatch(/Sign-in refused[\s\S]*\(audience\) claim/);
    expect(await whoIs(alice, node.url)).toBeNull();
  });

  it("sends the provider a new state, nonce and PKCE challenge (S256) each time, and refuses an ID token of another sign-in's nonce", async () => {
    const { node, provider, redirect } = await setUp();
    const starts = await Promise.all(
      [0, 1].map(async () => {
        const at = new URL((await new RedirectingClient().get(`${node.url}/auth/oidc/start`)).location ?? "");
        return Object.fromEntries(
          ["state", "nonce", "code_challenge", "code_challenge_method"].map((k) => [k, at.searchParams.get(k)]),
        );
      }),
    );
    for (const start of starts) {
      expect(start.code_challenge_method).toBe("S256");
      for (const k of ["state", "nonce", "code_challenge"]) expect(String(start[k]).length).toBeGreaterThanOrEqual(22);
    }
    for (const k of ["state", "nonce", "code_challenge"]) expect(starts[0]?.[k]).not.toBe(starts[1]?.[k]);

    // A genuine ID token for this chat and this person, from a sign-in with another nonce, swapped into hers.
    const alice = new RedirectingClient();
    provider.swapIdToken = await mintIdToken(
      alice,
      provider.issuer,
      { ...CHAT, redirect },
      randomBytes(16).toString("base64url"),
    );
    const refused = await alice.get(await toCallback(alice, node.url, redirect));
    expect(provider.swapIdToken).toBeUndefined();
    expect(refused.status).toBe(401);
    expect(refused.body).toMatch(/Sign-in refused[\s\S]*nonce/);
    expect(alice.cookie(node.url, "chat_session")).toBeUndefined();
    expect(await whoIs(alice, node.url)).toBeNull();
  });

  it("on Redis with two nodes: started on one, the callback taken by the other, the session good on both", async () => {
    const { a, b, redirect, browser } = await setUpTwoNodes();

    // The pending sign-in's cookie was set by A; the browser brings it to B, the same site.
    const alice = browser();
    expect((await alice.get(await toCallback(alice, a.url, redirect))).status).toBe(303);
    const onB = await whoIs(alice, b.url);
    expect(onB?.name).toBe("Alice");
    expect(await whoIs(alice, a.url)).toEqual(onB);

    // The link is in Redis: a sign-in through A finds the same account.
    const later = browser();
    await later.get(await toCallback(later, a.url, redirect));
    expect((await whoIs(later, b.url))?.uid).toBe(onB?.uid);
  });

  it("on PostgreSQL: the link is a row of the new migration step, and finds the account again", async () => {
    const postgres = await startPostgres();
    scope.defer(() => postgres.remove());
    const { node, provider, redirect } = await setUp({ DATABASE_URL: await postgres.createDatabase("oidc") });
    const first = new RedirectingClient();
    await first.get(await toCallback(first, node.url, redirect));
    const account = await whoIs(first, node.url);
    expect(account?.name).toBe("Alice");
    const db = await postgres.client("oidc");
    scope.defer(() => db.end());
    const rows = await db.query("SELECT issuer, subject, uid FROM account_identities");
    expect(rows.rows).toEqual([{ issuer: provider.issuer, subject: "alice-sub", uid: account?.uid }]);
    const again = new RedirectingClient();
    await again.get(await toCallback(again, node.url, redirect));
    expect((await whoIs(again, node.url))?.uid).toBe(account?.uid);
  });

  it("is refused at start half configured or over plain HTTP to another machine, never echoing the secret", async () => {
    const half = await runToExit({ OIDC_ISSUER: "https://id.example.com", OIDC_CLIENT_SECRET: "s3cret-value-xyz" });
    expect(half.code).toBe(1);
    expect(half.stderr.trim().split("\n")).toEqual([
      "configuration error: set all of OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URL, or none",
    ]);
    const plain = await runToExit({ OIDC_ISSUER: "http://id.example.com" });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("OIDC_ISSUER");
    expect(plain.stderr).toContain("must be an https URL");
    expect(half.stderr).not.toContain("s3cret-value-xyz");
  });

  it("calls the provider by OIDC_PROVIDER_NAME when set, and refuses that name without a provider", async () => {
    const { node } = await setUp({ OIDC_PROVIDER_NAME: "Acme SSO" });
    expect((await new AccountClient(node.url).state()).body.oidc).toEqual({ name: "Acme SSO" });
    const alone = await runToExit({ OIDC_PROVIDER_NAME: "Acme SSO" });
    expect(alone.code).toBe(1);
    expect(alone.stderr.trim().split("\n")).toEqual([
      "configuration error: OIDC_PROVIDER_NAME names the provider of OIDC_ISSUER: set that too, or neither",
    ]);
  });

  it("without OIDC_* offers no provider and has no OIDC routes", async () => {
    const node = await scope.node();
    expect((await new AccountClient(node.url).state()).body.oidc).toBeNull();
    expect((await new RedirectingClient().get(`${node.url}/auth/oidc/start`)).status).toBe(404);
  });
});
