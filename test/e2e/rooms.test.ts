/**
 * Rooms in the web client, in Chromium (issue 23): making a private room
 * with the dialog, inviting someone by a copied link who then reads it in
 * another browser, a spent link refused, its members, and the directory.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, browserPerFile, currentRoom, drawn, roomMessages, say } from "../support/browser.js";
import { perTest } from "../support/scope.js";

/** Put into the page by evaluation: the chat's Content-Security-Policy rightly refuses inline scripts. */
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical findings on the page as it is now, in light and dark. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const found: string[] = [];
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    found.push(
      ...(await page.evaluate(async () => {
        type AxeViolation = { id: string; impact: string; nodes: { target: string[] }[] };
        const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
        const { violations } = await axe.run();
        return violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      })),
    );
  }
  return found;
}

const scope = perTest();
const chromium = browserPerFile();

async function online(url: string): Promise<Page> {
  const page = await chromium.open(url);
  await page.locator('body[data-state="online"]').waitFor();
  return page;
}

/** The side list's entry for the room shown as `name`, once it is on screen. */
const shown = (page: Page, name: string) =>
  page.locator("#rooms li.active").filter({ has: page.getByText(`#${name}`, { exact: true }) });

describe("rooms in the web client", { timeout: BROWSER_TEST_MS }, () => {
  it("creating a private room and inviting someone by link", async () => {
    const n = await scope.node();
    const ada = await online(`${n.url}/`);
    await ada.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await ada.getByRole("button", { name: "New room" }).click();
    const dialog = ada.getByRole("dialog", { name: "New room" });
    await dialog.getByLabel("Room name").fill("Design Team");
    await dialog.getByLabel("Topic").fill("Mockups <b>and</b> reviews");
    await dialog.getByLabel("Who may come in").selectOption("private");
    expect(await accessibilityViolations(ada)).toEqual([]);
    await dialog.getByRole("button", { name: "Create room" }).click();
    await shown(ada, "Design Team").waitFor();
    expect(await dialog.isHidden()).toBe(true);
    expect(await ada.locator("#room-title").textContent()).toBe("#Design Team");
    // A topic is text, never markup.
    expect(await ada.locator("#room-topic").textContent()).toBe("Mockups <b>and</b> reviews");
    await say(ada, "welcome to the team");
    await roomMessages(ada, "welcome to the team").waitFor();

    await ada.getByRole("button", { name: "Invite" }).click();
    const invite = ada.getByRole("dialog", { name: "Invite by link" });
    const link = await invite.getByLabel("Invitation link").inputValue();
    expect(await accessibilityViolations(ada)).toEqual([]);
    expect(link).toMatch(new RegExp(`^${n.url}/#/room-invite/[A-Za-z0-9_-]{32}$`));
    await invite.getByRole("button", { name: "Copy link" }).click();
    await invite.getByText("Copied").waitFor();
    expect(await ada.evaluate(() => navigator.clipboard.readText())).toBe(link);
    await invite.getByRole("button", { name: "Close" }).click();

    // Another browser opens the link: it is let in, and sees the room, its topic and what was said.
    const bea = await online(link);
    await shown(bea, "Design Team").waitFor();
    await roomMessages(bea, "welcome to the team").waitFor();
    expect(await bea.locator("#room-topic").textContent()).toBe("Mockups <b>and</b> reviews");
    // The token does not stay in the address, to be bookmarked or shared again: the address names
    // the room, as Ada's does.
    const roomHash = new URL(ada.url()).hash;
    expect(roomHash).toMatch(/^#\/room\/design-team~[a-z0-9]+$/);
    expect(new URL(bea.url()).hash).toBe(roomHash);
    expect(bea.url()).not.toContain(link.split("/").pop());
    await say(bea, "glad to be here");
    await roomMessages(ada, "glad to be here").waitFor();

    // Ada sees who belongs, online or not, and can write to any of them from there.
    const beaName = (await bea.locator("#users .me .user-name").textContent()) ?? "";
    await ada.getByRole("button", { name: "Members" }).click();
    const members = ada.getByRole("dialog", { name: "Members of Design Team" });
    const beaEntry = members.locator("li").filter({ hasText: beaName });
    await beaEntry.waitFor();
    expect(await beaEntry.textContent()).toContain("member · online");
    // A guest member is marked as everywhere else.
    expect(await beaEntry.locator(".guest-badge").count()).toBe(1);
    expect(await members.locator("li").filter({ hasText: "owner · online" }).count()).toBe(1);
    await members.getByRole("button", { name: `Message ${beaName}` }).click();
    await expect.poll(() => ada.locator("#room-title").textContent()).toBe(`${beaName} (guest)`);

    // The link was for one person: a third is told so, and never sees the room.
    const cal = await online(link);
    await cal.getByText("This invitation link has expired or been used up").waitFor();
    expect(await cal.locator("#rooms").getByText("#Design Team").count()).toBe(0);
  });

  it("on a phone, keeps a room's name and topic in the header and its actions behind one button", async () => {
    const n = await scope.node();
    const ada = await online(`${n.url}/`);
    await ada.getByRole("button", { name: "New room" }).click();
    const dialog = ada.getByRole("dialog", { name: "New room" });
    await dialog.getByLabel("Room name").fill("Night Shift");
    await dialog.getByLabel("Topic").fill("Handovers, pages and the coffee rota");
    await dialog.getByRole("button", { name: "Create room" }).click();
    await shown(ada, "Night Shift").waitFor();
    const actions = ada.getByRole("button", { name: "Room actions" });
    // Wide, the actions are in the header's row and there is nothing to unfold.
    expect(await drawn(ada.getByRole("button", { name: "Members" }))).toBe(true);
    expect(await actions.isVisible()).toBe(false);

    await ada.setViewportSize({ width: 390, height: 760 });
    // The name, who is there and the button share a row; the topic takes the next, and that is all.
    const title = await ada.locator("#room-title").boundingBox();
    const button = await actions.boundingBox();
    const topic = await ada.locator("#room-topic").boundingBox();
    const head = await ada.locator(".chat-head").boundingBox();
    expect(await drawn(actions)).toBe(true);
    expect(await drawn(ada.locator("#room-topic"))).toBe(true);
    expect(
      Math.abs((title?.y ?? 0) + (title?.height ?? 0) / 2 - ((button?.y ?? 0) + (button?.height ?? 0) / 2)),
    ).toBeLessThan(8);
    expect(topic?.y ?? 0).toBeGreaterThanOrEqual((title?.y ?? 0) + (title?.height ?? 0) - 1);
    expect((head?.y ?? 0) + (head?.height ?? 0)).toBeLessThanOrEqual((topic?.y ?? 0) + (topic?.height ?? 0) + 16);
    expect(await ada.getByRole("button", { name: "Members" }).isVisible()).toBe(false);

    // The button opens the actions, Escape puts them away and gives the focus back.
    await actions.click();
    expect(await actions.getAttribute("aria-expanded")).toBe("true");
    for (const name of ["Members", "Invite"]) expect(await drawn(ada.getByRole("button", { name }))).toBe(true);
    expect(await drawn(ada.getByRole("button", { name: "Mute #Night Shift" }))).toBe(true);
    expect(await accessibilityViolations(ada)).toEqual([]);
    await ada.keyboard.press("Escape");
    expect(await ada.getByRole("button", { name: "Members" }).isVisible()).toBe(false);
    expect(await actions.evaluate((b) => b === document.activeElement)).toBe(true);

    // An action taken puts the list away under what it opens.
    await actions.click();
    await ada.getByRole("button", { name: "Invite" }).click();
    const invite = ada.getByRole("dialog", { name: "Invite by link" });
    await invite.waitFor();
    expect(await actions.getAttribute("aria-expanded")).toBe("false");
    expect(await ada.getByRole("button", { name: "Members" }).isVisible()).toBe(false);
    // Closed, the dialog gives the focus to the button the action was folded behind.
    await invite.getByRole("button", { name: "Close" }).click();
    await expect.poll(() => actions.evaluate((b) => b === document.activeElement)).toBe(true);

    // Escape puts the list of places away too, the focus back on its button.
    const places = ada.locator("#panels-toggle");
    await places.click();
    expect(await places.getAttribute("aria-expanded")).toBe("true");
    await ada.keyboard.press("Escape");
    expect(await places.getAttribute("aria-expanded")).toBe("false");
    expect(await places.evaluate((b) => b === document.activeElement)).toBe(true);
  });

  it("its owner renames a room, changes its topic and sets slow mode from its settings; a member sees each, and has no settings", async () => {
    const n = await scope.node();
    const ada = await online(`${n.url}/`);
    await ada.getByRole("button", { name: "New room" }).click();
    const create = ada.getByRole("dialog", { name: "New room" });
    await create.getByLabel("Room name").fill("Study Hall");
    await create.getByLabel("Topic").fill("Quiet please");
    await create.getByRole("button", { name: "Create room" }).click();
    await shown(ada, "Study Hall").waitFor();
    await say(ada, "doors open at nine");
    const bea = await online(`${n.url}/#/room/study-hall`);
    await roomMessages(bea, "doors open at nine").waitFor();
    expect(await bea.getByRole("button", { name: "Settings" }).isVisible()).toBe(false);

    await ada.getByRole("button", { name: "Settings" }).click();
    const settings = ada.getByRole("dialog", { name: "Settings of Study Hall" });
    expect(await settings.getByLabel("Room name").inputValue()).toBe("Study Hall");
    expect(await settings.getByLabel("Topic").inputValue()).toBe("Quiet please");
    expect(await accessibilityViolations(ada)).toEqual([]);
    await settings.getByLabel("Room name").fill("Reading Room");
    await settings.getByLabel("Topic").fill("Whispers <i>only</i>");
    await settings.getByLabel(/Slow mode/).selectOption({ label: "30 seconds" });
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.waitFor({ state: "hidden" });

    for (const page of [ada, bea]) {
      await expect.poll(() => page.locator("#room-title").textContent()).toBe("#Reading Room");
      await expect.poll(() => page.locator("#room-topic").textContent()).toBe("Whispers <i>only</i>");
      await expect.poll(() => page.locator("#room-rules .slow").textContent()).toBe("Slow mode: one message each 30 s");
    }
    // The dialog opens on the room as it is now; a refusal stays in it, said.
    await ada.getByRole("button", { name: "Settings" }).click();
    const again = ada.getByRole("dialog", { name: "Settings of Reading Room" });
    expect(await again.getByLabel("Room name").inputValue()).toBe("Reading Room");
    expect(await again.getByLabel(/Slow mode/).inputValue()).toBe("30");
    await again.getByLabel("Room name").fill("   ");
    await again.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => again.getByRole("alert").textContent()).not.toBe("");
    expect(await again.isVisible()).toBe(true);
    await again.getByRole("button", { name: "Cancel" }).click();
    expect(await ada.locator("#room-title").textContent()).toBe("#Reading Room");
  });

  it("browses the directory, where a private room is not listed, and joins a public room from it", async () => {
    const n = await scope.node();
    const ada = await online(`${n.url}/`);
    for (const [name, visibility] of [
      ["Secret Santa", "private"],
      ["Book Club", "public"],
    ]) {
      await ada.getByRole("button", { name: "New room" }).click();
      const dialog = ada.getByRole("dialog", { name: "New room" });
      await dialog.getByLabel("Room name").fill(name ?? "");
      await dialog.getByLabel("Topic").fill(`all about ${name}`);
      await dialog.getByLabel("Who may come in").selectOption(visibility ?? "");
      // The choice is drawn as a field like the others, not the browser's bare control beside them.
      const [field, choice] = await Promise.all(
        ["Topic", "Who may come in"].map((label) => dialog.getByLabel(label).boundingBox()),
      );
      expect(Math.abs((choice?.height ?? 0) - (field?.height ?? 0))).toBeLessThanOrEqual(2);
      await dialog.getByRole("button", { name: "Create room" }).click();
      await shown(ada, name ?? "").waitFor();
    }
    await say(ada, "chapter one tonight");
    const bea = await online(`${n.url}/`);
    await currentRoom(bea, "lobby").waitFor();
    // A server of guests has no accounts to list: the people directory says where the people are.
    await bea.getByRole("button", { name: "Find people" }).click();
    const people = bea.getByRole("dialog", { name: "People" });
    await expect
      .poll(() => people.getByRole("status").textContent())
      .toMatch(/choose their name in a room's Online list/);
    await people.getByRole("button", { name: "Close" }).click();
    await bea.getByRole("button", { name: "Browse rooms" }).click();
    const directory = bea.getByRole("dialog", { name: "Rooms" });
    const bookClub = directory.locator("li").filter({ hasText: "Book Club" });
    await bookClub.waitFor();
    expect(await bookClub.textContent()).toContain("all about Book Club");
    expect(await accessibilityViolations(bea)).toEqual([]);
    expect(await directory.getByText("Secret Santa").count()).toBe(0);
    await directory.getByLabel("Search rooms").fill("santa");
    await directory.getByRole("button", { name: "Search" }).click();
    await directory.getByText("No rooms found").waitFor();
    await directory.getByLabel("Search rooms").fill("book");
    await directory.getByRole("button", { name: "Search" }).click();
    await directory.getByRole("button", { name: "Join Book Club" }).click();
    await shown(bea, "Book Club").waitFor();
    await currentRoom(bea, "book-club").waitFor();
    await roomMessages(bea, "chapter one tonight").waitFor();
    // Joining a public room makes nobody a member, and members invite: Bea is offered no invitation
    // to make, where its owner is (nor in the lobby).
    expect(await ada.getByRole("button", { name: "Invite" }).isVisible()).toBe(true);
    expect(await bea.getByRole("button", { name: "Members" }).isVisible()).toBe(true);
    expect(await bea.getByRole("button", { name: "Invite" }).isVisible()).toBe(false);
    // A room she is in already is one to open, not to join again.
    await bea.locator('#rooms li[data-room="lobby"] .room-name').click();
    await currentRoom(bea, "lobby").waitFor();
    expect(await bea.getByRole("button", { name: "Invite" }).isVisible()).toBe(false);
    await bea.getByRole("button", { name: "Browse rooms" }).click();
    await bookClub.waitFor();
    expect(await directory.getByRole("button", { name: "Join Book Club" }).count()).toBe(0);
    await directory.getByRole("button", { name: "Open Book Club" }).click();
    await currentRoom(bea, "book-club").waitFor();
  });
});
