/**
 * Signing in, in Chromium: each way in through the pages a person sees
 * (sign-up, sign-in, an invitation link, a reset link), sign-out, and the
 * admin page disabling someone who is connected in another browser, whose
 * page then shows the sign-in page instead of knocking again and again.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AccountClient } from "../support/accounts.js";
import { BROWSER_TEST_MS, browserPerFile, currentRoom, drawn, userEntry } from "../support/browser.js";
import { SERVER_ENTRY } from "../support/processes.js";
import { perTest } from "../support/scope.js";

const scope = perTest();
const chromium = browserPerFile();
const GOOD = "correct horse battery staple";
/** A page reloads after each sign-in step, which a busy machine makes slow: waited for, not timed. */
const POLL = { timeout: 15_000 };

function page(url: string): Promise<Page> {
  return chromium.open(url);
}

async function fill(p: Page, form: string, fields: Record<string, string>, submit: string): Promise<void> {
  for (const [label, value] of Object.entries(fields)) await p.locator(form).getByLabel(label).fill(value);
  await p.locator(form).getByRole("button", { name: submit }).click();
}

/** The chat, as the account `name`: online, in the lobby, its name in the top bar. */
async function inChatAs(p: Page, name: string): Promise<void> {
  await p.locator('body[data-state="online"]').waitFor();
  await currentRoom(p, "lobby").waitFor();
  await expect.poll(() => p.locator("#account-name").textContent(), POLL).toBe(name);
  expect(await p.locator("#auth").isHidden()).toBe(true);
}

describe("accounts in the web client", { timeout: BROWSER_TEST_MS }, () => {
  it("signs up, signs out, signs in; a guest beside it is marked as one", async () => {
    const n = await scope.node({ SIGNUP: "open", GUESTS: "1" });
    const ada = await page(`${n.url}/`);
    // Guests are let in: the chat starts as a guest, with a way to sign in.
    await ada.locator('body[data-state="online"]').waitFor();
    await ada.locator("#sign-in").click();
    // No single sign-on is set up here: no way in offers it.
    await ada.locator("#signin-form").waitFor();
    expect(await ada.getByRole("link", { name: /sign-in provider/ }).isVisible()).toBe(false);
    await ada.locator("#show-signup").click();
    await fill(ada, "#signup-form", { Name: "Ada", "Password (at least 10 characters)": "short" }, "Create account");
    // The browser's own check stops a short password before the server does.
    expect(await ada.locator("#signup-form").isVisible()).toBe(true);
    await fill(ada, "#signup-form", { "Password (at least 10 characters)": "password1234" }, "Create account");
    await expect.poll(() => ada.locator("#auth-message").textContent(), POLL).toMatch(/first ones guessed/);
    await fill(ada, "#signup-form", { "Password (at least 10 characters)": GOOD }, "Create account");
    await inChatAs(ada, "Ada");
    expect(await ada.locator("#nick-form").isHidden()).toBe(true);

    const guest = await page(`${n.url}/`);
    await guest.locator('body[data-state="online"]').waitFor();
    await currentRoom(guest, "lobby").waitFor();
    const guestName = (await guest.locator("#users .me .user-name").textContent()) ?? "";
    const seen = userEntry(ada, guestName);
    await seen.waitFor();
    expect(await seen.locator(".guest-badge").textContent()).toBe("guest");
    expect(await userEntry(guest, "Ada").locator(".guest-badge").count()).toBe(0);

    await ada.locator("#sign-out").click();
    await ada.locator('body[data-state="online"]').waitFor();
    await ada.locator("#sign-in").waitFor();
    await ada.locator("#sign-in").click();
    await fill(ada, "#signin-form", { Name: "ada", Password: "wrong password here" }, "Sign in");
    await expect.poll(() => ada.locator("#auth-message").textContent(), POLL).toBe("wrong name or password");
    await fill(ada, "#signin-form", { Password: GOOD }, "Sign in");
    await inChatAs(ada, "Ada");
  });

  it("on a phone, keeps the account's name above the room, and its profile and sign-out in the list of places", async () => {
    const n = await scope.node({ SIGNUP: "open", GUESTS: "1" });
    const p = await chromium.open(`${n.url}/`, (p) => p.setViewportSize({ width: 390, height: 760 }));
    await p.locator('body[data-state="online"]').waitFor();
    expect(await drawn(p.locator("#sign-in"))).toBe(true);
    await p.locator("#sign-in").click();
    await p.locator("#show-signup").click();
    await fill(
      p,
      "#signup-form",
      { Name: "Margaret Hamilton", "Password (at least 10 characters)": GOOD },
      "Create account",
    );
    await p.locator('body[data-state="online"]').waitFor();
    await currentRoom(p, "lobby").waitFor({ state: "attached" });
    await expect.poll(() => p.locator("#account-name").textContent(), POLL).toBe("Margaret Hamilton");
    // Over the room: who is signed in, the search and the connection, in two rows; nothing to sign out by mistake.
    expect(await drawn(p.locator("#account-name"))).toBe(true);
    expect(await drawn(p.locator("#search-input"))).toBe(true);
    expect((await p.locator(".topbar").boundingBox())?.height).toBeLessThanOrEqual(110);
    expect(await p.locator("#sign-out").isVisible()).toBe(false);
    expect(await p.locator("#profile-open").isVisible()).toBe(false);
    // The list of places has them, each button's words on one line.
    await p.locator("#panels-toggle").click();
    for (const id of ["#profile-open", "#sign-out", "#sign-out-all"]) {
      expect(await drawn(p.locator(id))).toBe(true);
      const box = await p.locator(id).boundingBox();
      expect(box?.height).toBeLessThan(40);
    }
    await p.locator("#sign-out").click();
    await p.locator("#sign-in").waitFor();
    await p.locator('body[data-state="online"]').waitFor();
    expect(await drawn(p.locator("#sign-in"))).toBe(true);
  });

  it("an invitation link and a reset link from the admin page; disabling someone shows them the sign-in page, once", async () => {
    const n = await scope.node({ SIGNUP: "invite", ADMIN_USERS: "Boss" });
    // Nobody may come as a guest here: the sign-in page comes first, with no connection knocking.
    const boss = await page(`${n.url}/`);
    await boss.locator("#signin-form").waitFor();
    expect(await boss.locator("#as-guest").isHidden()).toBe(true);
    expect(await boss.locator("#show-signup").isHidden()).toBe(true);

    // The first admin comes from the CLI, run against the node's own archive while it runs.
    const link = resetLinkFromCli(n.dataDir, "Boss");
    await boss.goto(`${n.url}/#reset=${link}`);
    await fill(boss, "#reset-form", { "New password (at least 10 characters)": GOOD }, "Set password");
    await inChatAs(boss, "Boss");

    await boss.locator("#admin-open").click();
    await boss.locator("#invite-form").getByRole("button", { name: "Make an invitation" }).click();
    await expect.poll(() => boss.locator("#admin-output").textContent(), POLL).toMatch(/#invite=/);
    const inviteUrl = /https?:\/\/\S+/.exec((await boss.locator("#admin-output").textContent()) ?? "")?.[0] ?? "";

    const ada = await page(inviteUrl);
    await fill(ada, "#signup-form", { Name: "Ada", "Password (at least 10 characters)": GOOD }, "Create account");
    await inChatAs(ada, "Ada");
    expect(ada.url()).not.toMatch(/invite=/);

    await boss.locator("#admin-close").click();
    await boss.locator("#admin-open").click();
    const row = boss.locator("#admin-accounts li", { hasText: "Ada" });
    await row.getByRole("button", { name: "Disable" }).click();
    await ada.locator("#signin-form").waitFor();
    expect(await ada.locator("#auth-message").textContent()).toBe("This account has been disabled by an admin.");
    expect(await ada.locator("body").getAttribute("data-state")).toBe("offline");
    expect(await ada.locator("#notices .notice").count()).toBeLessThanOrEqual(1);
    await fill(ada, "#signin-form", { Name: "Ada", Password: GOOD }, "Sign in");
    await expect.poll(() => ada.locator("#auth-message").textContent(), POLL).toBe("this account has been disabled");

    await row.getByRole("button", { name: "Enable" }).click();
    await boss.locator("#admin-accounts li", { hasText: "Ada" }).getByRole("button", { name: "Disable" }).waitFor();
    await boss.locator("#admin-accounts li", { hasText: "Ada" }).getByRole("button", { name: "Reset link" }).click();
    await expect.poll(() => boss.locator("#admin-output").textContent(), POLL).toMatch(/#reset=/);
    const resetUrl = /https?:\/\/\S+/.exec((await boss.locator("#admin-output").textContent()) ?? "")?.[0] ?? "";
    const again = await page(resetUrl);
    const next = "a fresh long passphrase";
    await fill(again, "#reset-form", { "New password (at least 10 characters)": next }, "Set password");
    await inChatAs(again, "Ada");
  });

  it("a guest's page says who it is in the connection's first frame: no address it asks for carries its token", async () => {
    const n = await scope.node({ GUESTS: "1" });
    for (const transport of ["websocket", "xhr-polling"]) {
      const p = await page(`${n.url}/?transport=${transport}`);
      await p.locator('body[data-state="online"]').waitFor();
      const uid = await p.locator("#users .me").getAttribute("data-id");
      // What web/src/storage.ts keeps: the guest's lasting credential.
      const token = await p.evaluate(() => localStorage.getItem("redis-sockjs-chat.guest"));
      expect(token, transport).toBeTruthy();
      const asked: string[] = [];
      p.on("request", (r) => asked.push(r.url()));
      p.on("websocket", (ws) => asked.push(ws.url()));
      // A reload comes back as the same guest: its token went over the connection, not in an address.
      await p.reload();
      await p.locator('body[data-state="online"]').waitFor();
      await currentRoom(p, "lobby").waitFor();
      expect(await p.locator("#users .me").getAttribute("data-id"), transport).toBe(uid);
      expect(
        asked.some((u) => u.includes("/sock/")),
        transport,
      ).toBe(true);
      expect(
        asked.filter((u) => /[?&](guest|token|ticket)=/.test(u) || u.includes(token ?? "")),
        transport,
      ).toEqual([]);
    }
  });

  it("'Sign out everywhere' in one browser shows another the sign-in page, saying the sign-in ended, once", async () => {
    const n = await scope.node({ SIGNUP: "open" });
    expect((await new AccountClient(n.url).post("/auth/signup", { name: "Ada", password: GOOD })).status).toBe(200);
    const browsers: Page[] = [];
    for (let i = 0; i < 2; i++) {
      const client = new AccountClient(n.url);
      expect((await client.post("/auth/signin", { name: "Ada", password: GOOD })).status).toBe(200);
      const p = await page(`${n.url}/`);
      const value = client.cookies.get("chat_session") ?? "";
      await p.context().addCookies([{ name: "chat_session", value, url: n.url }]);
      await p.reload();
      await inChatAs(p, "Ada");
      browsers.push(p);
    }
    const [laptop, phone] = browsers as [Page, Page];
    await laptop.getByRole("button", { name: "Sign out everywhere" }).click();
    await phone.locator("#signin-form").waitFor();
    expect(await phone.locator("#auth-message").textContent()).toBe("Your sign-in has ended. Sign in again to go on.");
    expect(await phone.locator("body").getAttribute("data-state")).toBe("offline");
    expect(await phone.locator("#notices .notice").count()).toBeLessThanOrEqual(1);
    // The laptop that asked is signed out too: no guests here, so the sign-in page.
    await laptop.locator("#signin-form").waitFor();
  });

  it("with AUTH_SECRET and no guests, shows the sign-in page instead of knocking with no token", async () => {
    const n = await scope.node({ AUTH_SECRET: "a-test-secret-that-is-long-enough-0123456789" });
    const p = await page(`${n.url}/`);
    await p.locator("#signin-form").waitFor();
    expect(await p.locator("#as-guest").isHidden()).toBe(true);
    expect(await p.locator("#notices .notice").count()).toBe(0);
    // The page decided from /auth/state, before any connection: none was opened to be refused.
    expect(n.output()).not.toMatch(/connection opened/);
  });
});

/** `npm run admin -- create-admin NAME` against a node's archive: the one-time link it prints. */
function resetLinkFromCli(dataDir: string, name: string): string {
  const cli = path.join(path.dirname(SERVER_ENTRY), "admin.js");
  const out = execFileSync(process.execPath, [cli, "create-admin", name], {
    env: { ...process.env, DATA_DIR: dataDir },
    encoding: "utf8",
  });
  const token = /#reset=([\w-]+)/.exec(out)?.[1];
  if (!token) throw new Error(`no link in: ${out}`);
  return token;
}
