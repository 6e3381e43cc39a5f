import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, closePage, enterRoom, launchBrowser, openChat, roomMessages } from "../support/browser.js";
import { connectUser, joinRoom, type User } from "../support/chat.js";
import { type NodeProcess, startNode } from "../support/processes.js";

let browser: Browser;
let chat: NodeProcess;
// History keeps more than a page, so that older pages exist to scroll back to.
const env = { RATE_LIMIT: "0", HISTORY_SIZE: "500" };

beforeAll(async () => {
  [browser, chat] = await Promise.all([launchBrowser(), startNode(env, "reserved")]);
});
afterAll(async () => {
  await browser?.close();
  await chat?.stop();
});

/** A client that is not a browser, to write a room's history quickly. */
async function writer(room: string): Promise<User> {
  const u = await connectUser(chat.url, { query: "lobby=0" });
  await joinRoom(u, room);
  return u;
}

async function write(u: User, room: string, texts: string[]): Promise<void> {
  const refs = texts.map((_, i) => `w-${i}-${Math.random()}`);
  await u.client.sendFrame(
    texts.map((message, i) => JSON.stringify({ action: "message", room, message, ref: refs[i] })),
  );
  await u.client.action("ack", (f) => f.ref === refs.at(-1));
}

describe("what the web client shows of history, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("loads older pages as the reader scrolls up, to the first message kept", async () => {
    const room = "long-story";
    const w = await writer(room);
    const texts = Array.from({ length: 130 }, (_, i) => `line ${i + 1}`);
    await write(w, room, texts);
    const page = await openChat(browser, chat.url);
    try {
      await enterRoom(page, room);
      // The join shows the newest 100; the first 30 come from scrolling up.
      await roomMessages(page, "line 130").waitFor();
      await roomMessages(page, "line 31").waitFor();
      expect(await roomMessages(page, "line 30").count()).toBe(0);
      for (let i = 0; i < 10 && (await roomMessages(page, "line 1").count()) === 0; i++) {
        await page.locator("#messages").evaluate((box) => {
          box.scrollTop = 0;
          box.dispatchEvent(new Event("scroll"));
        });
        await page.waitForTimeout(200);
      }
      await roomMessages(page, "line 1").waitFor();
      const shown = await page.locator("#messages .msg .text").allTextContents();
      expect(shown).toEqual(texts);
    } finally {
      w.client.close();
      await closePage(page);
    }
  });

  it("says some messages may be missing when the history it comes back to started over", async () => {
    const room = "restarted";
    const page = await openChat(browser, chat.url);
    try {
      await enterRoom(page, room);
      const w = await writer(room);
      await write(w, room, ["before the restart"]);
      await roomMessages(page, "before the restart").waitFor();
      expect(await page.locator("#messages .gap-marker").count()).toBe(0);
      // An embedded node forgets its history when it restarts: the page cannot recover what it missed.
      const port = chat.port;
      await chat.stop();
      await page.locator('body:not([data-state="online"])').waitFor();
      chat = await startNode(env, port);
      await page.locator('body[data-state="online"]').waitFor({ timeout: 20_000 });
      const w2 = await writer(room);
      await write(w2, room, ["after the restart"]);
      await roomMessages(page, "after the restart").waitFor();
      await page.locator("#messages .gap-marker").getByText("Some messages may be missing").waitFor();
      w2.client.close();
    } finally {
      await closePage(page);
    }
  });
});
