/**
 * The profile page in Chromium (issue 22): a person sets a display name and
 * an avatar colour, and another person's page shows them beside the
 * messages, in the members list, and after a reload; the palette's contrast
 * passes axe-core in light and dark mode.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { AccountClient } from "../support/accounts.js";
import {
  BROWSER_TEST_MS,
  browserPerFile,
  currentRoom,
  openConversation,
  roomMessages,
  say,
  showRoom,
  userEntry,
} from "../support/browser.js";
import { perTest } from "../support/scope.js";

const scope = perTest();
const chromium = browserPerFile();
const GOOD = "correct horse battery staple";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** A reload and a round trip through the server, which a busy machine makes slow: waited for, not timed. */
const POLL = { timeout: 15_000 };

/** The chat in a browser of its own, signed in as a new account `name`. */
async function signedIn(base: string, name: string): Promise<{ page: Page; uid: string }> {
  const client = new AccountClient(base);
  const up = await client.post("/auth/signup", { name, password: GOOD });
  expect(up.status).toBe(200);
  const page = await chromium.open(`${base}/`);
  await page
    .context()
    .addCookies([{ name: "chat_session", value: client.cookies.get("chat_session") ?? "", url: base }]);
  await page.reload();
  await page.locator('body[data-state="online"]').waitFor(POLL);
  await currentRoom(page, "lobby").waitFor();
  return { page, uid: (up.body.account as { uid: string }).uid };
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
    await form.getByLabel("Display name").fill("Ada Lovelace");
    await form.getByRole("radio", { name: "Indigo" }).check();
    // Each colour is previewed with the initials the person will have.
    expect(await form.locator(".colour-choice .avatar").first().textContent()).toBe("AL");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => ada.page.locator("#profile-message").textContent(), POLL).toBe("Saved.");

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
