import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  closePage,
  enterRoom,
  openChat,
  type PageOptions,
  privateMessages,
  roomMessages,
  say,
  senderOf,
  setNick,
  shownState,
  startPm,
  userEntry,
} from "../support/browser.js";
import { startNode } from "../support/processes.js";
import { clusterAndBrowser } from "./cluster.js";
import { freshRoom } from "./two-users.js";

const SCREENSHOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs/screenshot.png");

const env = clusterAndBrowser();
const pages: Page[] = [];

afterEach(async () => {
  await Promise.all(pages.splice(0).map(closePage));
});

/** A user on node `node` of the cluster, named `name`, in `room`. */
async function userIn(node: 0 | 1, name: string, room: string, options: PageOptions = {}): Promise<Page> {
  const page = await openChat(env.browser, env.cluster.nodes[node].url, options);
  pages.push(page);
  await setNick(page, name);
  await enterRoom(page, room);
  return page;
}

describe("the web client in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("reconnects by itself when its node restarts, and shows what was said meanwhile once and without a gap", async () => {
    const room = freshRoom("restart");
    const ada = await userIn(0, "Ada", room);
    const grace = await userIn(1, "Grace", room);
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
    for (const text of meanwhile) expect(await senderOf(roomMessages(ada, text))).toBe("Grace");

    // A message sent after the reconnect comes after anything a replay could have doubled.
    await say(ada, "back again");
    expect(await senderOf(roomMessages(grace, "back again"))).toBe("Ada");
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
    const ada = await userIn(1, "Ada", room);
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
    await startPm(grace, "Ada Lovelace");
    await say(grace, "Lunch at noon? My treat.");
    expect(await senderOf(privateMessages(ada, "Lunch at noon? My treat."))).toBe("Grace Hopper");
    await grace.locator("#pm-cancel").click();
    // Typed key by key, as a person types: the page tells others at most every 2 s.
    await grace.locator("#text").pressSequentially("Sure, see you there", { delay: 150 });
    await ada.locator("#typing").getByText("Grace Hopper is typing…").waitFor();

    // A test run changes no tracked file: `npm run screenshot` runs this test to write the picture.
    // Without the clock times the picture is the same on every run, so the file only changes with the page.
    const picture = await ada.screenshot({
      path: process.env.WRITE_SCREENSHOT === "1" ? SCREENSHOT : undefined,
      style: "#messages .time { display: none; }",
    });
    expect(picture.length).toBeGreaterThan(10_000);
  });
});
