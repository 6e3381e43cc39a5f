/**
 * Local accounts (issue 22), against real server processes: sign-up by
 * invitation, sign-in, the first-frame ticket, sign-out everywhere, disable
 * and reset across two nodes on one Redis, the sign-in throttle, and what
 * keeps names and passwords honest.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, scryptSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { AccountClient } from "./support/accounts.js";
import { connectUser } from "./support/chat.js";
import { SERVER_ENTRY } from "./support/processes.js";
import { perTest } from "./support/scope.js";
import { SockClient } from "./support/sockjs-client.js";

const scope = perTest();
const ADMIN_CLI = path.join(path.dirname(SERVER_ENTRY), "admin.js");
const GOOD = "correct horse battery staple";

function createAdmin(env: Record<string, string>, name: string): string {
  const out = execFileSync(process.execPath, [ADMIN_CLI, "create-admin", name], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  const token = /#reset=([\w-]+)/.exec(out)?.[1];
  if (!token) throw new Error(`no reset link in: ${out}`);
  return token;
}

describe("on the embedded archive", () => {
  it("the first admin comes from the CLI, invites one person, who signs up, connects by ticket and signs out everywhere", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-accounts-"));
    scope.defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const link = createAdmin({ DATA_DIR: dataDir }, "Root");
    const n = await scope.node({ DATA_DIR: dataDir, SIGNUP: "invite" });

    const root = new AccountClient(n.url);
    // A password refused for holding the account's name says so, and leaves the one-time link for the next try.
    const refused = await root.post("/auth/reset", { token: link, password: "root password 2026" });
    expect([refused.status, refused.body.error?.code]).toEqual([400, "bad_password"]);
    expect(refused.body.error?.message).toMatch(/must not contain the account's name/);
    const rootIn = await root.post("/auth/reset", { token: link, password: GOOD });
    expect(rootIn.status).toBe(200);
    expect(rootIn.body.account).toMatchObject({ name: "Root", admin: true });
    // The link was for one use.
    expect((await new AccountClient(n.url).post("/auth/reset", { token: link, password: GOOD })).body.error?.code).toBe(
      "bad_link",
    );

    const stranger = new AccountClient(n.url);
    const uninvited = await stranger.post("/auth/signup", { name: "Eve", password: GOOD });
    expect([uninvited.status, uninvited.body.error?.code]).toEqual([403, "signup_closed"]);
    const invite = await root.post("/auth/admin/invitations", { uses: 1, hours: 1 });
    const token = String(invite.body.token);
    const ada = new AccountClient(n.url);
    const signedUp = await ada.post("/auth/signup", { name: "Ada", password: GOOD, invite: token });
    expect(signedUp.status).toBe(200);
    expect(JSON.stringify(signedUp.body)).not.toMatch(/scrypt|correct horse/);
    const again = await stranger.post("/auth/signup", { name: "Eve", password: GOOD, invite: token });
    expect([again.status, again.body.error?.code]).toEqual([410, "bad_link"]);

    // No guests on a chat with sign-up by invitation, unless GUESTS=1 says so.
    const guest = await SockClient.connect(n.url, { query: "proto=2&lobby=0" });
    expect((await guest.action("error")).code).toBe("unauthorized");
    expect((await guest.waitClosed()).code).toBe(4001);

    const laptop = await ada.connect();
    scope.defer(() => laptop.client.close());
    expect(laptop.first).toMatchObject({ action: "user_info", name: "Ada" });
    expect(String(laptop.first.uid)).toMatch(/^a-/);
    const phone = new AccountClient(n.url);
    expect((await phone.post("/auth/signin", { name: "ada", password: GOOD })).status).toBe(200);
    const onPhone = await phone.connect();
    scope.defer(() => onPhone.client.close());
    expect(onPhone.first.uid).toBe(laptop.first.uid);
    // Her account's name is hers: no nick takes it off her.
    await onPhone.client.send({ action: "nick", name: "Ada Lovelace", ref: "n" });
    expect((await onPhone.client.action("error")).code).toBe("forbidden");

    const ticket = await phone.ticket();
    expect((await ada.post("/auth/signout-everywhere")).status).toBe(200);
    expect((await laptop.client.waitClosed()).code).toBe(4006);
    expect((await onPhone.client.waitClosed()).code).toBe(4006);
    // A ticket of an ended session admits nobody, and the phone's cookie is worth nothing.
    const late = await phone.connect(n.url, ticket);
    expect(late.first).toMatchObject({ action: "error", code: "unauthorized" });
    expect((await phone.state()).body.account).toBeNull();
    expect((await phone.post("/auth/ticket")).status).toBe(401);
  });

  it("keeps passwords and names honest: length, common ones, look-alike names, guests, CSRF, cookies, rotation", async () => {
    const n = await scope.node({ SIGNUP: "open", GUESTS: "1", TRUST_PROXY: "1", ADMIN_USERS: "ada" });
    const a = new AccountClient(n.url);
    const refused = async (body: Record<string, string>) => (await a.post("/auth/signup", body)).body.error?.code;
    expect(await refused({ name: "Ada", password: "short1" })).toBe("bad_password");
    expect(await refused({ name: "Ada", password: "password123" })).toBe("bad_password");
    expect(await refused({ name: "User #123", password: GOOD })).toBe("bad_name");
    // Until she does, the operator is told at start that anyone signing up first as Ada is an admin.
    await n.waitForOutput(/first person to sign up with one of these ADMIN_USERS names/);
    expect(n.output()).toMatch(/"names":\["ada"\]/);
    const first = await a.post("/auth/signup", { name: "Ada", password: GOOD });
    expect(first.status).toBe(200);
    // ADMIN_USERS names her, in whatever case.
    expect(first.body.account).toMatchObject({ name: "Ada", admin: true });
    const cookie = first.setCookie.find((c) => c.startsWith("chat_session="));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
    // Cyrillic А, Greek Α, capitals, a dot: each reads as Ada.
    for (const name of ["ADA", "\u0410da", "\u0391DA", "A.da"]) {
      expect(
        await new AccountClient(n.url).post("/auth/signup", { name, password: GOOD }).then((r) => r.body.error?.code),
      ).toBe("name_taken");
    }

    // No form post without the page's CSRF token, nor from another site's page.
    const bare = await a.request("POST", "/auth/signin", { name: "Ada", password: GOOD });
    expect([bare.status, bare.body.error?.code]).toEqual([403, "forbidden"]);
    const csrf = a.cookies.get("chat_csrf") ?? "";
    const foreign = await a.request(
      "POST",
      "/auth/signin",
      { name: "Ada", password: GOOD },
      { "X-CSRF-Token": csrf, Origin: "https://evil.example" },
    );
    expect(foreign.status).toBe(403);

    // Each sign-in is a new session: the cookie before it signs nobody in.
    const before = a.cookies.get("chat_session");
    const viaTls = await a.request(
      "POST",
      "/auth/signin",
      { name: "Ada", password: GOOD },
      { "X-CSRF-Token": csrf, "X-Forwarded-Proto": "https" },
    );
    expect(viaTls.setCookie.find((c) => c.startsWith("chat_session="))).toMatch(/Secure/);
    expect(a.cookies.get("chat_session")).not.toBe(before);
    const planted = new AccountClient(n.url);
    planted.cookies.set("chat_session", before ?? "");
    expect((await planted.state()).body.account).toBeNull();

    // A guest may not take an account's name, in any of its look-alike spellings.
    const guest = await connectUser(n.url, { query: "proto=2&lobby=0" });
    scope.defer(() => guest.client.close());
    expect(guest.uid).toMatch(/^g-/);
    await guest.client.send({ action: "nick", name: "\u0430DA", ref: "n" });
    expect((await guest.client.action("error")).code).toBe("name_taken");
    await guest.client.send({ action: "nick", name: "Grace", ref: "g" });
    await guest.client.action("ack");

    // A changed password ends the other sessions; the old one no longer signs in.
    const other = new AccountClient(n.url);
    await other.post("/auth/signin", { name: "Ada", password: GOOD });
    const open = await other.connect();
    scope.defer(() => open.client.close());
    const next = "a much longer passphrase";
    expect((await a.post("/auth/password", { current: GOOD, next })).status).toBe(200);
    expect((await open.client.waitClosed()).code).toBe(4006);
    expect((await a.post("/auth/signin", { name: "Ada", password: GOOD })).body.error?.code).toBe("unauthorized");
    expect((await a.post("/auth/signin", { name: "Ada", password: next })).status).toBe(200);
  });

  it("refuses every form post without this page's CSRF token, or from another site's page, and does none of it", async () => {
    const n = await scope.node({ SIGNUP: "open", ADMIN_USERS: "Boss" });
    const boss = new AccountClient(n.url);
    const up = await boss.post("/auth/signup", { name: "Boss", password: GOOD });
    const uid = String((up.body.account as { uid: string }).uid);
    const csrf = boss.cookies.get("chat_csrf") ?? "";
    const forms: [string, Record<string, unknown>][] = [
      ["/auth/signup", { name: "Eve", password: GOOD }],
      ["/auth/signin", { name: "Boss", password: GOOD }],
      ["/auth/signout", {}],
      ["/auth/signout-everywhere", {}],
      ["/auth/password", { current: GOOD, next: "a takeover passphrase" }],
      ["/auth/ticket", {}],
      ["/auth/reset", { token: "x", password: "a takeover passphrase" }],
      ["/auth/profile", { display: "Pwned", colour: 1 }],
      ["/auth/admin/invitations", { uses: 100 }],
      [`/auth/admin/accounts/${uid}`, { admin: false }],
      [`/auth/admin/accounts/${uid}/reset`, {}],
    ];
    for (const [route, body] of forms) {
      const bare = await boss.request("POST", route, body);
      expect([bare.status, bare.body.error?.code], route).toEqual([403, "forbidden"]);
      const foreign = await boss.request("POST", route, body, { "X-CSRF-Token": csrf, Origin: "https://evil.example" });
      expect([foreign.status, foreign.body.error?.code], route).toEqual([403, "forbidden"]);
    }
    // Still signed in, under the same password and profile; no account was made.
    expect((await boss.state()).body.account).toMatchObject({ name: "Boss", display: "Boss", admin: true });
    expect((await boss.post("/auth/ticket")).status).toBe(200);
    const listed = await boss.request("GET", "/auth/admin/accounts");
    expect((listed.body.accounts as { name: string }[]).map((a) => a.name)).toEqual(["Boss"]);
    expect((await new AccountClient(n.url).post("/auth/signin", { name: "Boss", password: GOOD })).status).toBe(200);
  });

  it("answers a broken cookie or form with a refusal in JSON, never a server error, and logs none as one", async () => {
    const n = await scope.node({ SIGNUP: "open" });
    const ada = new AccountClient(n.url);
    expect((await ada.post("/auth/signup", { name: "Ada", password: GOOD })).status).toBe(200);
    const csrf = ada.cookies.get("chat_csrf") ?? "";
    const session = ada.cookies.get("chat_session") ?? "";
    const send = (path: string, cookie: string, body?: string) =>
      fetch(`${n.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { Cookie: cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json" },
        body,
      }).then(async (r) => [r.status, ((await r.json()) as { error?: { code: string } }).error?.code]);
    // Escapes no browser would send (`%E0%A4%A`) beside the good cookies: as if they had not come.
    const broken = `chat_csrf=${csrf}; chat_session=${session}; junk=%E0%A4%A`;
    expect(await send("/auth/state", broken)).toEqual([200, undefined]);
    expect(await send("/auth/profile", broken, JSON.stringify({ display: "Ada L." }))).toEqual([200, undefined]);
    expect(await send("/auth/state", "chat_session=%E0%A4%A")).toEqual([200, undefined]);
    expect(await send("/auth/admin/accounts", "chat_session=%")).toEqual([401, "unauthorized"]);
    expect(await send("/auth/signin", "chat_csrf=%", "{}")).toEqual([403, "forbidden"]);
    // A form that is not JSON, or over 4 kB, is the client's mistake, said in the routes' own JSON.
    const good = `chat_csrf=${csrf}; chat_session=${session}`;
    expect(await send("/auth/signin", good, "{not json")).toEqual([400, "bad_request"]);
    expect(await send("/auth/signin", good, JSON.stringify({ name: "x".repeat(5000) }))).toEqual([400, "bad_request"]);
    expect((await ada.state()).body.account).toMatchObject({ name: "Ada", display: "Ada L." });
    expect(n.output()).not.toMatch(/"level":(50|60)/);
  });

  it("SIGNUP=closed lets nobody sign up; an invitation past its expiry lets nobody in", async () => {
    const closed = await scope.node({ SIGNUP: "closed", ADMIN_USERS: "Root" });
    const refused = await new AccountClient(closed.url).post("/auth/signup", { name: "Root", password: GOOD });
    expect([refused.status, refused.body.error?.code]).toEqual([403, "signup_closed"]);
    expect((await new AccountClient(closed.url).state()).body.signup).toBe("closed");

    const dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-accounts-"));
    scope.defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const link = createAdmin({ DATA_DIR: dataDir }, "Root");
    const n = await scope.node({ DATA_DIR: dataDir, SIGNUP: "invite" });
    const root = new AccountClient(n.url);
    expect((await root.post("/auth/reset", { token: link, password: GOOD })).status).toBe(200);
    // Good for five people, for about a second.
    const invite = await root.post("/auth/admin/invitations", { uses: 5, hours: 0.0003 });
    const expires = Number(invite.body.expires);
    while (Date.now() <= expires + 50) await new Promise((r) => setTimeout(r, expires + 100 - Date.now()));
    const late = await new AccountClient(n.url).post("/auth/signup", {
      name: "Ada",
      password: GOOD,
      invite: invite.body.token,
    });
    expect([late.status, late.body.error?.code]).toEqual([410, "bad_link"]);
  });

  it("keys each hash with PASSWORD_PEPPER, hashes again one made with other settings at the next sign-in, and never logs a password", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "chat-accounts-"));
    scope.defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const storedHash = () => {
      const db = new Database(path.join(dataDir, "chat.sqlite"), { readonly: true });
      try {
        return String((db.prepare("SELECT hash FROM accounts WHERE name = 'Ada'").get() as { hash: string }).hash);
      } finally {
        db.close();
      }
    };
    const first = await scope.node({ DATA_DIR: dataDir, SIGNUP: "open" });
    expect((await new AccountClient(first.url).post("/auth/signup", { name: "Ada", password: GOOD })).status).toBe(200);
    expect(first.output()).not.toContain(GOOD);
    await first.stop();
    // The hash says what made it: OWASP's scrypt settings, no pepper, a salt, the key.
    expect(storedHash()).toMatch(/^\$scrypt\$ln=15,r=8,p=3,pepper=0\$[\w-]{22}\$[\w-]{43}$/);

    // As if made years ago with weaker settings: the hash carries them, so it still checks, once.
    const salt = randomBytes(16);
    const weak = scryptSync(GOOD, salt, 32, { N: 2 ** 12, r: 8, p: 1 });
    const db = new Database(path.join(dataDir, "chat.sqlite"));
    db.prepare("UPDATE accounts SET hash = ? WHERE name = 'Ada'").run(
      `$scrypt$ln=12,r=8,p=1,pepper=0$${salt.toString("base64url")}$${weak.toString("base64url")}`,
    );
    db.close();

    const pepper = "a pepper kept apart from the database, long enough";
    const peppered = await scope.node({ DATA_DIR: dataDir, PASSWORD_PEPPER: pepper });
    const ada = new AccountClient(peppered.url);
    expect((await ada.post("/auth/signin", { name: "Ada", password: GOOD })).status).toBe(200);
    // Hashed again at today's settings, keyed with the pepper; and that hash signs her in.
    expect(storedHash()).toMatch(/^\$scrypt\$ln=15,r=8,p=3,pepper=1\$/);
    expect((await ada.post("/auth/signin", { name: "Ada", password: GOOD })).status).toBe(200);
    expect(peppered.output()).not.toContain(GOOD);
    await peppered.stop();

    // The database alone (another pepper, or none) signs nobody in.
    for (const env of [{ PASSWORD_PEPPER: "another pepper altogether, longer" }, {}] as Record<string, string>[]) {
      const other = await scope.node({ DATA_DIR: dataDir, ...env });
      const answer = await new AccountClient(other.url).post("/auth/signin", { name: "Ada", password: GOOD });
      expect([answer.status, answer.body.error?.code]).toEqual([401, "unauthorized"]);
      await other.stop();
    }
  });

  // 1,000 requests and fifteen scrypt hashes of 32 MiB each: longer than most tests on a busy machine, and bounded.
  it("1,000 guesses at one account take 199 windows or more; guesses from one address across accounts are counted too", async () => {
    const n = await scope.node({
      SIGNUP: "open",
      SIGNIN_ATTEMPTS_PER_ACCOUNT: "5",
      SIGNIN_ATTEMPTS_PER_IP: "10",
      SIGNIN_WINDOW: "3600",
    });
    const owner = new AccountClient(n.url, "127.0.0.2");
    expect((await owner.post("/auth/signup", { name: "Ada", password: GOOD })).status).toBe(200);

    // Twenty addresses, fifty guesses each: under the address limit's 10 each would let 200 through; the account's lets 5.
    const attackers = Array.from({ length: 20 }, (_, i) => new AccountClient(n.url, `127.0.0.${10 + i}`));
    await Promise.all(attackers.map((x) => x.state()));
    const codes = new Map<string, number>();
    const waits: number[] = [];
    for (let sent = 0; sent < 1000; sent += 50) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          attackers[(sent + i) % 20]?.post("/auth/signin", { name: "Ada", password: `guess-${sent + i}-xx` }),
        ),
      );
      for (const a of answers) {
        if (!a) throw new Error("no answer");
        const code = a.body.error?.code ?? "signed_in";
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === "rate_limited") waits.push(a.body.error?.wait ?? 0);
      }
    }
    // Five are checked; the other 995 are refused unchecked, each told to wait out the hour's window:
    // at five an hour, 1,000 guesses take 199 hours or more.
    expect(Object.fromEntries(codes)).toEqual({ unauthorized: 5, rate_limited: 995 });
    expect(Math.min(...waits)).toBeGreaterThan(3000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(3600);
    // While the account is locked, the right password is refused as well: the limit cannot be used as an oracle.
    const right = await owner.post("/auth/signin", { name: "Ada", password: GOOD });
    expect(right.body.error?.code).toBe("rate_limited");

    // One address guessing across many names runs into its own limit.
    const spray = new AccountClient(n.url, "127.0.0.4");
    await spray.state();
    const sprayed = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        spray.post("/auth/signin", { name: `person${i}`, password: `guess-${i}-xxxx` }),
      ),
    );
    const sprayCodes = sprayed.map((a) => a.body.error?.code);
    expect(sprayCodes.filter((c) => c === "unauthorized")).toHaveLength(10);
    expect(sprayCodes.filter((c) => c === "rate_limited")).toHaveLength(20);
  }, 120_000);
});

describe("two nodes on one Redis", () => {
  it("share accounts and sessions: a ticket from one admits on the other; disable and sign-out end connections on both", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, SIGNUP: "invite" };
    const a = await scope.node(env);
    const b = await scope.node(env);

    // The CLI makes the first admin in Redis as well; the link it prints works on either node.
    const boss = new AccountClient(a.url);
    const bossIn = await boss.post("/auth/reset", {
      token: createAdmin({ REDIS_URL: redis.url }, "Boss"),
      password: GOOD,
    });
    expect(bossIn.body.account).toMatchObject({ admin: true });
    const invite = await boss.post("/auth/admin/invitations", { uses: 2, hours: 1 });
    const ada = new AccountClient(b.url);
    const adaIn = await ada.post("/auth/signup", { name: "Ada", password: GOOD, invite: invite.body.token });
    const uid = String((adaIn.body.account as { uid: string }).uid);
    // Its uses are counted on every node: the second is taken on A, and there is no third.
    const grace = await new AccountClient(a.url).post("/auth/signup", {
      name: "Grace",
      password: GOOD,
      invite: invite.body.token,
    });
    expect(grace.status).toBe(200);
    const third = await new AccountClient(b.url).post("/auth/signup", {
      name: "Eve",
      password: GOOD,
      invite: invite.body.token,
    });
    expect(third.body.error?.code).toBe("bad_link");

    // A ticket B handed out admits on A: the nodes share the secret and the sessions.
    const onA = await ada.connect(a.url);
    const onB = await ada.connect(b.url);
    scope.defer(() => onA.client.close());
    scope.defer(() => onB.client.close());
    expect(onA.first).toMatchObject({ action: "user_info", uid });
    expect(onB.first).toMatchObject({ action: "user_info", uid });

    expect((await boss.post(`/auth/admin/accounts/${uid}`, { disabled: true })).status).toBe(200);
    expect((await onA.client.waitClosed(1000)).code).toBe(4007);
    expect((await onB.client.waitClosed(1000)).code).toBe(4007);
    expect((await ada.post("/auth/signin", { name: "Ada", password: GOOD })).body.error?.code).toBe("disabled");
    expect((await ada.post("/auth/ticket")).status).toBe(401);
    // Nobody but an admin may do what an admin does.
    expect((await ada.post(`/auth/admin/accounts/${uid}`, { disabled: false })).status).toBe(401);

    // Enabled again with a reset link, Ada sets a new password on B and signs in on A.
    expect((await boss.post(`/auth/admin/accounts/${uid}`, { disabled: false })).status).toBe(200);
    const reset = await boss.post(`/auth/admin/accounts/${uid}/reset`);
    const next = "another long passphrase";
    expect(
      (await new AccountClient(b.url).post("/auth/reset", { token: reset.body.token, password: next })).status,
    ).toBe(200);
    const back = new AccountClient(a.url);
    expect((await back.post("/auth/signin", { name: "Ada", password: GOOD })).body.error?.code).toBe("unauthorized");
    expect((await back.post("/auth/signin", { name: "Ada", password: next })).status).toBe(200);

    const again = await back.connect(a.url);
    const elsewhere = await back.connect(b.url);
    scope.defer(() => again.client.close());
    scope.defer(() => elsewhere.client.close());
    expect(again.first.action).toBe("user_info");
    const onBNode = new AccountClient(b.url);
    onBNode.cookies.set("chat_session", back.cookies.get("chat_session") ?? "");
    expect((await onBNode.post("/auth/signout-everywhere")).status).toBe(200);
    expect((await again.client.waitClosed(1000)).code).toBe(4006);
    expect((await elsewhere.client.waitClosed(1000)).code).toBe(4006);

    const listed = await boss.request("GET", "/auth/admin/accounts");
    expect((listed.body.accounts as { name: string }[]).map((x) => x.name)).toEqual(["Boss", "Ada", "Grace"]);
  });

  it("signing out ends that session's connections on both nodes and no other's; an admin makes another; a disabled account's ticket admits nobody", async () => {
    const redis = await scope.redis();
    const env = { REDIS_URL: redis.url, SIGNUP: "open", ADMIN_USERS: "Boss" };
    const a = await scope.node(env);
    const b = await scope.node(env);
    const boss = new AccountClient(a.url);
    expect((await boss.post("/auth/signup", { name: "Boss", password: GOOD })).body.account).toMatchObject({
      admin: true,
    });
    const laptop = new AccountClient(a.url);
    const adaIn = await laptop.post("/auth/signup", { name: "Ada", password: GOOD });
    const uid = String((adaIn.body.account as { uid: string }).uid);
    const phone = new AccountClient(b.url);
    expect((await phone.post("/auth/signin", { name: "Ada", password: GOOD })).status).toBe(200);
    const laptopOnA = await laptop.connect(a.url);
    const laptopOnB = await laptop.connect(b.url);
    const phoneOnB = await phone.connect(b.url);
    for (const c of [laptopOnA, laptopOnB, phoneOnB]) scope.defer(() => c.client.close());

    // The laptop signs out: its connections close on both nodes, the phone's stays.
    expect((await laptop.post("/auth/signout")).status).toBe(200);
    expect((await laptopOnA.client.waitClosed()).code).toBe(4006);
    expect((await laptopOnB.client.waitClosed()).code).toBe(4006);
    expect((await laptop.state()).body.account).toBeNull();
    await phoneOnB.client.send({ action: "join", room: "lobby", ref: "still" });
    expect(await phoneOnB.client.next((f) => f.ref === "still" && f.action === "users")).toBeTruthy();
    expect(phoneOnB.client.closed).toBeUndefined();

    // An admin makes Ada one: she may then do what admins do, but not undo herself.
    expect((await phone.request("GET", "/auth/admin/accounts")).status).toBe(403);
    expect((await boss.post(`/auth/admin/accounts/${uid}`, { admin: true })).body.account).toMatchObject({
      admin: true,
    });
    expect((await phone.request("GET", "/auth/admin/accounts")).status).toBe(200);
    const demoteSelf = await phone.post(`/auth/admin/accounts/${uid}`, { admin: false });
    expect([demoteSelf.status, demoteSelf.body.error?.code]).toEqual([403, "forbidden"]);
    const disableSelf = await phone.post(`/auth/admin/accounts/${uid}`, { disabled: true });
    expect([disableSelf.status, disableSelf.body.error?.code]).toEqual([403, "forbidden"]);

    // A ticket taken before the account was disabled admits nobody after.
    const ticket = await phone.ticket();
    expect((await boss.post(`/auth/admin/accounts/${uid}`, { disabled: true })).status).toBe(200);
    expect((await phoneOnB.client.waitClosed()).code).toBe(4007);
    const late = await phone.connect(a.url, ticket);
    expect(late.first).toMatchObject({ action: "error", code: "unauthorized" });
    late.client.close();
  });
});
