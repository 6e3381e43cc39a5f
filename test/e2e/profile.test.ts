/**
 * The profile page in Chromium (issue 22): a person sets a display name and
 * an avatar colour, and another person's page shows them beside the
 * messages, in the members list, and after a reload; the palette's contrast
 * passes axe-core in light and dark mode.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AccountClient } from "../support/accounts.js";
import {
  BROWSER_TEST_MS,
  browserPerFile,
  conversationEntry,
  currentRoom,
  directMessages,
  openConversation,
  roomMessages,
  say,
  showConversation,
  showRoom,
  systemLines,
  userEntry,
} from "../support/browser.js";
import { perTest } from "../support/scope.js";

const scope = perTest();
const chromium = browserPerFile();
const GOOD = "correct horse battery staple";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** A reload and a round trip through the server, which a busy machine makes slow: waited for, not timed. */
const POLL = { timeout: 15_000 };

/** A new account `name`, signed in outside any browser. */
async function signedUp(base: string, name: string): Promise<{ client: AccountClient; uid: string }> {
  const client = new AccountClient(base);
  const up = await client.post("/auth/signup", { name, password: GOOD });
  expect(up.status).toBe(200);
  return { client, uid: (up.body.account as { uid: string }).uid };
}

/** The chat in a browser of its own, signed in as a new account `name`. */
async function signedIn(base: string, name: string): Promise<{ page: Page; uid: string; client: AccountClient }> {
  const { client, uid } = await signedUp(base, name);
  return { page: await inBrowser(base, client), uid, client };
}

/** The chat in a browser of its own, with the session of `client`. */
async function inBrowser(base: string, client: AccountClient): Promise<Page> {
  const page = await chromium.open(`${base}/`);
  await page
    .context()
    .addCookies([{ name: "chat_session", value: client.cookies.get("chat_session") ?? "", url: base }]);
  await page.reload();
  await page.locator('body[data-state="online"]').waitFor(POLL);
  await currentRoom(page, "lobby").waitFor();
  return page;
}

/** A guest's page in the lobby, and the name the server gave it. */
async function guestIn(base: string): Promise<{ page: Page; name: string }> {
  const page = await chromium.open(`${base}/`);
  await page.locator('body[data-state="online"]').waitFor(POLL);
  await currentRoom(page, "lobby").waitFor();
  return { page, name: (await page.locator("#users .me .user-name").textContent()) ?? "" };
}

/** The hits of a search for `words` from the page's search box, as the page shows them. */
async function searched(page: Page, words: string, count: number): Promise<Locator> {
  const box = page.getByRole("combobox", { name: "Search messages" });
  await box.fill(words);
  await box.press("Enter");
  await page.locator("#search-status").getByText(`${count} results`).waitFor(POLL);
  return page.getByRole("listbox", { name: "Search results" }).getByRole("option");
}

/** What an avatar shows: its initials, and the colour of the palette it is drawn in. */
function avatarOf(scopeLocator: ReturnType<Page["locator"]>) {
  return scopeLocator.locator(".avatar").evaluate((node: HTMLElement) => ({
    initials: node.dataset.initials,
    colour: node.className.replace("avatar avatar-", ""),
  }));
}

describe("profiles in the web client", { timeout: BROWSER_TEST_MS }, () => {
  it("a display name and colour chosen on the profile page reach another person's page live, and stay", async () => {
    const node = await scope.node({ SIGNUP: "open" });
    const ada = await signedIn(node.url, "Ada");
    const grace = await signedIn(node.url, "Grace");
    await say(ada.page, "hello from Ada");
    const fromAda = roomMessages(grace.page, "hello from Ada");
    await fromAda.waitFor();
    expect(await fromAda.locator(".from").textContent()).toBe("Ada");
    const before = await avatarOf(fromAda);
    expect(before.initials).toBe("A");

    await ada.page.getByRole("button", { name: "Profile" }).click();
    const form = ada.page.locator("#profile-form");
    // A dialog over the page: Tab goes round its controls (and the browser's own), never to the page behind it.
    expect(await ada.page.getByRole("dialog", { name: "Your profile" }).isVisible()).toBe(true);
    const behind: string[] = [];
    for (let i = 0; i < 25; i++) {
      await ada.page.keyboard.press("Tab");
      const at = await ada.page.evaluate(() => {
        const focused = document.activeElement;
        return !focused || focused === document.body || focused.closest("#profile")
          ? ""
          : focused.outerHTML.slice(0, 80);
      });
      if (at !== "") behind.push(at);
    }
    expect(behind).toEqual([]);
    await form.getByLabel("Display name").fill("Ada Lovelace");
    await form.getByRole("radio", { name: "Indigo" }).check();
    // Each colour is previewed with the initials the person will have.
    expect(await form.locator(".colour-choice .avatar").first().textContent()).toBe("AL");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => ada.page.locator("#profile-message").textContent(), POLL).toBe("Saved.");
    // Escape puts the profile away, as it does the dialogs, and gives the focus back to its button.
    await ada.page.keyboard.press("Escape");
    expect(await form.isVisible()).toBe(false);
    expect(await ada.page.getByRole("button", { name: "Profile" }).evaluate((b) => b === document.activeElement)).toBe(
      true,
    );
    await ada.page.getByRole("button", { name: "Profile" }).click();

    // Grace sees it at once, beside the message and in the members list; Ada's own header too.
    await expect.poll(() => fromAda.locator(".from").textContent(), POLL).toBe("Ada Lovelace");
    expect(await avatarOf(fromAda)).toEqual({ initials: "AL", colour: "5" });
    expect(await fromAda.locator(".from").getAttribute("title")).toBe("@Ada");
    const entry = userEntry(grace.page, "Ada Lovelace");
    await entry.waitFor(POLL);
    expect(await avatarOf(entry)).toEqual({ initials: "AL", colour: "5" });
    await expect.poll(() => ada.page.locator("#account-name").textContent(), POLL).toBe("Ada Lovelace");
    expect(await avatarOf(ada.page.locator("#account-bar"))).toEqual({ initials: "AL", colour: "5" });

    // A conversation with her is named by her profile too.
    await openConversation(grace.page, "Ada Lovelace");
    await showRoom(grace.page, "lobby");

    // A reload asks the server for the profiles of those on the page.
    await grace.page.reload();
    await grace.page.locator('body[data-state="online"]').waitFor(POLL);
    await expect
      .poll(() => roomMessages(grace.page, "hello from Ada").locator(".from").textContent(), POLL)
      .toBe("Ada Lovelace");

    // What a person writes in their display name is shown as text, never as markup.
    await form.getByLabel("Display name").fill("Ada <b>the</b> Countess");
    await form.getByRole("button", { name: "Save" }).click();
    const renamed = roomMessages(grace.page, "hello from Ada").locator(".from");
    await expect.poll(() => renamed.textContent(), POLL).toBe("Ada <b>the</b> Countess");
    expect(await renamed.locator("b").count()).toBe(0);

    // Nobody is shown as another account.
    await form.getByLabel("Display name").fill("grace");
    await form.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(() => ada.page.locator("#profile-message").textContent(), POLL)
      .toMatch(/reads as another account's name/);
  });

  it("the lines that name people (joined, left, a search hit, who is typing) show display names, and mark guests as the members list does, as do a conversation's entry and header", async () => {
    // Who left is said once their last connection has been gone a second.
    const node = await scope.node({ SIGNUP: "open", GUESTS: "1", PRESENCE_GRACE: "1" });
    const first = await guestIn(node.url);
    const ada = await signedUp(node.url, "Ada");
    expect((await ada.client.post("/auth/profile", { display: "Ada Lovelace", colour: 5 })).status).toBe(200);
    const adaPage = await inBrowser(node.url, ada.client);
    // An account comes in by the name it shows, unmarked; its unique name a hover away.
    const adaJoined = systemLines(first.page, "Ada Lovelace joined");
    await adaJoined.waitFor(POLL);
    expect(await adaJoined.locator("[data-profile]").getAttribute("title")).toBe("@Ada");
    expect(await adaJoined.locator(".guest-badge").count()).toBe(0);

    // A guest comes in marked, as in the members list.
    const second = await guestIn(node.url);
    const guestJoined = systemLines(adaPage, `${second.name} (guest) joined`);
    await guestJoined.waitFor(POLL);
    expect(await guestJoined.locator(".guest-badge").textContent()).toBe("guest");
    expect(await userEntry(adaPage, second.name).locator(".guest-badge").count()).toBe(1);

    await say(second.page, "needle from a guest");
    await say(adaPage, "needle from Ada");
    await roomMessages(adaPage, "needle from a guest").waitFor(POLL);
    for (const page of [adaPage, first.page]) {
      const hits = await searched(page, "needle", 2);
      const byGuest = hits.filter({ hasText: "needle from a guest" });
      expect(await byGuest.locator(".from").textContent()).toBe(second.name);
      expect((await byGuest.locator(".hit-meta").textContent())?.split(", ")[0]).toBe(`${second.name} (guest)`);
      const byAda = hits.filter({ hasText: "needle from Ada" });
      await expect.poll(() => byAda.locator(".from").textContent(), POLL).toBe("Ada Lovelace");
      expect(await byAda.locator(".guest-badge").count()).toBe(0);
    }

    // Who is typing, and a conversation with a guest in the list and its header, mark the guest too.
    await second.page.locator("#text").fill("typing away");
    await adaPage.locator("#typing").getByText(`${second.name} (guest) is typing…`).waitFor(POLL);
    await openConversation(adaPage, second.name);
    expect(await conversationEntry(adaPage, second.name).locator(".guest-badge").count()).toBe(1);
    expect(await adaPage.locator("#room-title").textContent()).toBe(`${second.name} (guest)`);
    await showRoom(adaPage, "lobby");

    await second.page.context().close();
    await systemLines(adaPage, `${second.name} (guest) left`).waitFor(POLL);
    await adaPage.context().close();
    await systemLines(first.page, "Ada Lovelace left").waitFor(POLL);
  });

  it("who is typing, and the admin page's accounts, are shown by their display names", async () => {
    const node = await scope.node({ SIGNUP: "open", ADMIN_USERS: "Boss" });
    const boss = await signedIn(node.url, "Boss");
    const ada = await signedIn(node.url, "Ada");
    expect((await ada.client.post("/auth/profile", { display: "Ada Lovelace", colour: 5 })).status).toBe(200);

    await ada.page.locator("#text").fill("hello every");
    // Her account name is a hover away, as beside her messages.
    await boss.page.waitForFunction(
      () => {
        const line = document.querySelector("#typing");
        return (
          line?.textContent === "Ada Lovelace is typing…" &&
          line.querySelector("[data-profile]")?.getAttribute("title") === "@Ada"
        );
      },
      undefined,
      POLL,
    );

    await boss.page.getByRole("button", { name: "Admin" }).click();
    const row = boss.page.locator("#admin-accounts li", { hasText: "Ada Lovelace" });
    // The admin needs the unique name to tell two Ada Lovelaces apart: it stands beside the display name.
    expect(await row.locator(".account-name").textContent()).toBe("Ada Lovelace");
    expect(await row.locator(".account-handle").textContent()).toBe("@Ada");
    const own = boss.page.locator("#admin-accounts li", { hasText: "Boss" });
    expect(await own.locator(".account-handle").count()).toBe(0);
    await row.getByRole("button", { name: "Reset link" }).click();
    await expect
      .poll(() => boss.page.locator("#admin-output").textContent(), POLL)
      .toMatch(/^One-time link for Ada Lovelace \(@Ada\): http/);
  });

  it("a new profile reaches someone who shares only a conversation with the person: their list, its header and its messages", async () => {
    const node = await scope.node({ SIGNUP: "open" });
    const grace = await signedIn(node.url, "Grace");
    // Ada writes to Grace from a connection of her own, in no room, then goes.
    const ada = await signedUp(node.url, "Ada");
    const { client: adaConn } = await ada.client.connect();
    scope.defer(() => adaConn.close());
    await adaConn.send({ action: "dm", to: grace.uid, message: "hello Grace", ref: "hi" });
    expect(await adaConn.next((f) => f.ref === "hi")).toMatchObject({ action: "ack" });
    adaConn.close();
    await conversationEntry(grace.page, "Ada").waitFor(POLL);
    await showConversation(grace.page, "Ada");
    await directMessages(grace.page, "hello Grace").waitFor(POLL);
    await expect.poll(() => grace.page.locator("#room-title").textContent(), POLL).toBe("Ada");

    expect((await ada.client.post("/auth/profile", { display: "Ada Lovelace", colour: 5 })).status).toBe(200);
    await conversationEntry(grace.page, "Ada Lovelace").waitFor(POLL);
    await expect.poll(() => grace.page.locator("#room-title").textContent(), POLL).toBe("Ada Lovelace");
    expect(await grace.page.locator("#room-title [data-profile]").getAttribute("title")).toBe("@Ada");
    const message = directMessages(grace.page, "hello Grace");
    expect(await message.locator(".from").textContent()).toBe("Ada Lovelace");
    expect(await avatarOf(message)).toEqual({ initials: "AL", colour: "5" });
  });

  it("the palette's initials pass axe-core's contrast check, in light and dark mode", async () => {
    const node = await scope.node({ SIGNUP: "open" });
    const { page } = await signedIn(node.url, "Ada Lovelace");
    await page.getByRole("button", { name: "Profile" }).click();
    await page.locator("#profile-form").waitFor();
    await page.evaluate(AXE);
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      const result = await page.evaluate(async () => {
        type Nodes = { id: string; nodes: { target: string[] }[] }[];
        const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<unknown> } }).axe;
        const { violations, passes } = (await axe.run(
          { include: ["#profile"] },
          { runOnly: { type: "rule", values: ["color-contrast"] } },
        )) as { violations: Nodes; passes: Nodes };
        const targets = (list: Nodes) => list.flatMap((r) => r.nodes.map((n) => n.target.join(" ")));
        return { violations: targets(violations), passes: targets(passes) };
      });
      expect(result.violations, colorScheme).toEqual([]);
      // The check saw every colour of the palette, and the automatic one.
      expect(
        result.passes.filter((t) => t.includes("avatar")),
        colorScheme,
      ).toHaveLength(9);
    }
  });
});
