import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  closePage,
  conversationEntry,
  currentRoom,
  directMessages,
  drawn,
  joinAs,
  openChat,
  openConversation,
  type PageOptions,
  roomMessages,
  say,
  senderOf,
  showConversation,
  shownState,
  systemLines,
  userEntry,
} from "../support/browser.js";
import { startNode } from "../support/processes.js";
import { clusterAndBrowser } from "./cluster.js";
import { freshName, freshRoom } from "./two-users.js";

const SCREENSHOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs/screenshot.png");

const env = clusterAndBrowser();
const pages: Page[] = [];

afterEach(async () => {
  await Promise.all(pages.splice(0).map(closePage));
});

/** Longer than the cluster's grace period (PRESENCE_GRACE=3) and a close's detection: a leave would have shown. */
const LONGER_THAN_GRACE_MS = 5000;

/**
 * Another tab of the same browser, once it is online. It opens the same
 * origin: the stored identity is the origin's, as it is behind one address.
 */
async function secondTab(first: Page): Promise<Page> {
  const page = await first.context().newPage();
  await page.goto(first.url());
  await page.locator('body[data-state="online"]').waitFor();
  return page;
}

/** A user on node `node` of the cluster, named `name`, in `room`. */
async function userIn(node: 0 | 1, name: string, room: string, options: PageOptions = {}): Promise<Page> {
  const page = await joinAs(env.browser, env.cluster.nodes[node].url, name, room, options);
  pages.push(page);
  return page;
}

describe("the web client in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("reconnects by itself when its node restarts, and shows what was said meanwhile once and without a gap", async () => {
    const room = freshRoom("restart");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    await say(ada, "see you on the other side");
    await roomMessages(grace, "see you on the other side").waitFor();

    const [restarted] = env.cluster.nodes;
    await restarted.stop();
    const meanwhile = ["said while Ada was away", "and said again"];
    try {
      await ada.locator('body:not([data-state="online"])').waitFor();
      expect(["offline", "connecting"]).toContain(await shownState(ada));
      for (const text of meanwhile) {
        await say(grace, text);
        await roomMessages(grace, text).waitFor();
      }
    } finally {
      // Whatever happened above, the next tests find both nodes up.
      env.cluster.nodes[0] = await startNode(env.cluster.env, restarted.port);
    }
    // The web client's backoff has grown while its node was down.
    await ada.locator('body[data-state="online"]').waitFor({ timeout: 20_000 });
    for (const text of meanwhile) expect(await senderOf(roomMessages(ada, text))).toBe(graceName);

    // A message sent after the reconnect comes after anything a replay could have doubled.
    await say(ada, "back again");
    expect(await senderOf(roomMessages(grace, "back again"))).toBe(adaName);
    await roomMessages(ada, "back again").waitFor();
    for (const text of [...meanwhile, "see you on the other side", "back again"]) {
      expect(await roomMessages(ada, text).count()).toBe(1);
    }
    expect(await ada.locator("#messages .gap-marker").count()).toBe(0);
  });

  it("shows markup in messages and names as plain text, and runs none of it", async () => {
    const room = freshRoom("markup");
    const evilName = "<img src=x onerror=__pwned=1>";
    const mallory = await userIn(0, evilName, room);
    const ada = await userIn(1, freshName("Ada"), room);
    const attacks = ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=1</script>"] as const;
    for (const attack of attacks) await say(mallory, attack);

    for (const page of [ada, mallory]) {
      for (const attack of attacks) {
        const message = roomMessages(page, attack);
        await message.waitFor();
        expect(await message.locator(".text").textContent()).toBe(attack);
      }
      expect(await page.locator("#messages img, #messages script, #users img").count()).toBe(0);
      expect(await page.evaluate(() => "__pwned" in window)).toBe(false);
    }
    expect(await senderOf(roomMessages(ada, attacks[0]))).toBe(evilName);
    await userEntry(ada, evilName).waitFor();

    // Shift+Enter is a new line and Enter sends; web addresses become links, and nothing else does.
    await ada.locator("#text").pressSequentially("see https://example.com/a?b=1.");
    await ada.locator("#text").press("Shift+Enter");
    await ada.locator("#text").pressSequentially("javascript:alert(1)");
    await ada.locator("#text").press("Enter");
    const linked = mallory.locator("#messages .msg").filter({ hasText: "javascript:alert(1)" });
    expect(await linked.locator(".text").textContent()).toBe("see https://example.com/a?b=1.\njavascript:alert(1)");
    const links = linked.locator(".text a");
    expect(await links.count()).toBe(1);
    expect(await links.getAttribute("href")).toBe("https://example.com/a?b=1");
    expect(await links.getAttribute("rel")).toBe("noopener noreferrer");
    expect(await ada.locator("#text").inputValue()).toBe("");
  });

  it("keeps who you are and your rooms across tabs and a reload, and shows you once", async () => {
    const room = freshRoom("tabs");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    await userEntry(grace, adaName).waitFor();

    // A second tab is the same person, in the same rooms, under the same name.
    const tab = await secondTab(ada);
    await tab.locator(`#rooms li[data-room="${room}"]`).waitFor();
    await tab.locator(`#rooms li[data-room="${room}"] .room-name`).click();
    await currentRoom(tab, room).waitFor();
    expect(await tab.locator("#nick").inputValue()).toBe(adaName);
    await say(tab, "written in the second tab");
    expect(await senderOf(roomMessages(ada, "written in the second tab"))).toBe(`${adaName} (you)`);
    expect(await senderOf(roomMessages(grace, "written in the second tab"))).toBe(adaName);
    expect(await userEntry(grace, adaName).count()).toBe(1);
    await expect.poll(() => grace.locator("#online-count").textContent()).toBe("2 online");

    // Closing one tab, and reloading the other, announce nothing.
    await tab.close();
    await ada.reload();
    await ada.locator('body[data-state="online"]').waitFor();
    await ada.locator(`#rooms li[data-room="${room}"]`).waitFor();
    expect(await ada.locator("#nick").inputValue()).toBe(adaName);
    await grace.waitForTimeout(LONGER_THAN_GRACE_MS);
    expect(await systemLines(grace, `${adaName} (guest) left`).count()).toBe(0);
    expect(await userEntry(grace, adaName).count()).toBe(1);
    // The reloaded page is in the room again: what it says reaches Grace from the same person.
    await ada.locator(`#rooms li[data-room="${room}"] .room-name`).click();
    await say(ada, "back after a reload");
    expect(await senderOf(roomMessages(grace, "back after a reload"))).toBe(adaName);
  });

  it("keeps a direct conversation with its history, and its unread count in every tab", async () => {
    const room = freshRoom("dm");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    const graceTab = await secondTab(grace);

    await openConversation(ada, graceName);
    for (const text of ["are you there?", "call me when you can"]) {
      await say(ada, text);
      await directMessages(ada, text).waitFor();
    }
    for (const page of [grace, graceTab]) {
      await conversationEntry(page, adaName).locator(".badge").getByText("2", { exact: true }).waitFor();
    }
    await grace.locator("#panels-badge").getByText("2", { exact: true }).waitFor({ state: "attached" });

    // A reload keeps the conversation, its history and what is unread in it.
    await grace.reload();
    await conversationEntry(grace, adaName).locator(".badge").getByText("2", { exact: true }).waitFor();
    await showConversation(grace, adaName);
    expect(await grace.locator("#messages .msg.dm .text").allTextContents()).toEqual([
      "are you there?",
      "call me when you can",
    ]);
    await grace.locator("#messages .new-line + .msg.dm").getByText("are you there?").waitFor();
    // Read in one tab is read in the other.
    await conversationEntry(graceTab, adaName).locator(".badge").waitFor({ state: "detached" });

    await say(grace, "on my way");
    expect(await senderOf(directMessages(ada, "on my way"))).toBe(graceName);
    expect(await roomMessages(ada, "on my way").count()).toBe(0);
    await graceTab.close();
  });

  it("keeps the text of a message the server refused, with a retry", async () => {
    const page = await openChat(env.browser, env.cluster.nodes[0].url);
    pages.push(page);
    // A right-to-left override: nothing the page checks, and a format character the server refuses.
    const refused = "this turns \u202Ethe rest around";
    await page.locator("#text").fill(refused);
    await page.locator("#send").click();
    await page
      .locator(".notice")
      .getByText("Not sent: message contains a control or format character (U+202E)")
      .waitFor();
    await page.locator(".notice .notice-action").getByText("Retry").waitFor();
    expect(await page.locator("#text").inputValue()).toBe(refused);
    expect(await roomMessages(page, refused).count()).toBe(0);

    await page.locator("#text").fill("Short enough now");
    await page.locator("#send").click();
    await roomMessages(page, "Short enough now").waitFor();
    expect(await page.locator("#text").inputValue()).toBe("");
  });

  it("checks text against the limits its server says, not limits of its own", async () => {
    // The server's default is 4000 characters; this one takes 40, and says so in user_info.
    const strict = await startNode({ MAX_MESSAGE_LENGTH: "40", MAX_NAME_LENGTH: "10" });
    try {
      const page = await openChat(env.browser, strict.url);
      pages.push(page);
      const long = "This message is longer than forty characters, as the page will say";
      await page.locator("#text").fill(long);
      await page.locator("#counter").getByText(`${long.length} / 40`).waitFor();
      await page.locator("#send").click();
      await page
        .locator(".notice")
        .getByText(`Not sent: ${long.length - 40} characters too long (at most 40)`)
        .waitFor();
      expect(await page.locator("#text").inputValue()).toBe(long);
      expect(await page.locator("#nick").getAttribute("maxlength")).toBe("10");
    } finally {
      await strict.stop();
    }
  });

  it("shows two users chatting, as in docs/screenshot.png", async () => {
    const viewport = { width: 1000, height: 650 };
    const ada = await userIn(0, "Ada Lovelace", "general", { viewport });
    const grace = await userIn(1, "Grace Hopper", "general", { viewport });
    const conversation: [Page, string][] = [
      [ada, "Morning! How did the Redis fail-over drill go?"],
      [grace, "Like clockwork: both nodes were back within a second."],
      [ada, "And nobody lost a message?"],
      [grace, "Not one. Every client picked up where it left off."],
    ];
    for (const [page, text] of conversation) {
      await say(page, text);
      expect(await senderOf(roomMessages(ada, text))).toBe(page === ada ? "Ada Lovelace (you)" : "Grace Hopper");
    }
    await openConversation(grace, "Ada Lovelace");
    await say(grace, "Lunch at noon? My treat.");
    await conversationEntry(ada, "Grace Hopper").locator(".badge").getByText("1", { exact: true }).waitFor();
    await grace.locator('#rooms li[data-room="general"] .room-name').click();
    // Typed key by key, as a person types: the page tells others at most every 2 s.
    await grace.locator("#text").pressSequentially("Sure, see you there", { delay: 150 });
    await ada.locator("#typing").getByText("Grace Hopper (guest) is typing…").waitFor();

    // A test run changes no tracked file: `npm run screenshot` runs this test to write the picture.
    // Without the clock times the picture is the same on every run, so the file only changes with the page.
    const picture = await ada.screenshot({
      path: process.env.WRITE_SCREENSHOT === "1" ? SCREENSHOT : undefined,
      style: "#messages .time { display: none; }",
    });
    expect(picture.length).toBeGreaterThan(0);
    // What the picture shows: the talk, who is typing, the private message waiting, where Ada is.
    for (const [, text] of conversation) expect(await drawn(roomMessages(ada, text)), text).toBe(true);
    expect(await drawn(ada.locator("#typing").getByText("Grace Hopper (guest) is typing…"))).toBe(true);
    expect(await drawn(conversationEntry(ada, "Grace Hopper").locator(".badge"))).toBe(true);
    expect(await drawn(ada.locator("#room-title").getByText("#general"))).toBe(true);
    expect(await drawn(userEntry(ada, "Grace Hopper"))).toBe(true);
    expect(await drawn(ada.locator("#text"))).toBe(true);
    // Short of room, the bar and the room tools take another row: no button's words break over two lines
    // ("Set / name", "Sign / in", "Browse / rooms" had, at this width).
    const broken = await ada.locator(".topbar button:visible, .room-tools button:visible").evaluateAll((buttons) =>
      buttons
        .filter((b) => {
          const range = document.createRange();
          range.selectNodeContents(b);
          return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
        })
        .map((b) => b.textContent),
    );
    expect(broken).toEqual([]);
  });
});
