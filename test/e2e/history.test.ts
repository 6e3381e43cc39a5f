import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  closePage,
  currentRoom,
  enterRoom,
  launchBrowser,
  newPage,
  openChat,
  roomMessages,
} from "../support/browser.js";
import { connectUser, joinRoom, type User } from "../support/chat.js";
import { type NodeProcess, startNode } from "../support/processes.js";

let browser: Browser;
let chat: NodeProcess;
// History keeps more than a page, so that older pages exist to scroll back to.
// The room of 5,000 messages is written faster than a person could, so no write budget.
const env = { RATE_LIMIT: "0", HISTORY_SIZE: "500", WRITE_BYTES_PER_USER: "0", WRITE_BYTES_PER_IP: "0" };

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

  it("opens a room at its newest message, whole, and comes back to it after another room, on a phone too", async () => {
    const room = "newest-whole";
    const w = await writer(room);
    await write(
      w,
      room,
      Array.from({ length: 300 }, (_, i) => `message number ${i + 1}`),
    );
    /** How far the newest message's bottom is below the log's (0 or less: all of it is in view). */
    const hiddenPx = (page: Page) =>
      page.locator("#messages").evaluate((box) => {
        const last = [...box.querySelectorAll(".msg")].at(-1);
        return Math.round((last?.getBoundingClientRect().bottom ?? 0) - box.getBoundingClientRect().bottom);
      });
    try {
      for (const width of [1280, 390]) {
        const page = await newPage(browser);
        try {
          await page.setViewportSize({ width, height: 760 });
          await page.goto(`${chat.url}/#/room/${room}`);
          await roomMessages(page, "message number 300").waitFor();
          // The join's history, then lines laid above it: the view ends at the newest message still.
          await expect.poll(() => hiddenPx(page), { timeout: 5000 }).toBeLessThanOrEqual(0);
          await page.waitForTimeout(500);
          expect(await hiddenPx(page), `${width} px`).toBeLessThanOrEqual(0);
          // Away to the lobby and back, through the list of places on a phone.
          for (const to of ["lobby", room]) {
            if (width < 640) await page.locator("#panels-toggle").click();
            await page.locator(`#rooms li[data-room="${to}"] .room-name`).click();
            await currentRoom(page, to).waitFor({ state: "attached" });
          }
          await expect.poll(() => hiddenPx(page), { timeout: 5000 }).toBeLessThanOrEqual(0);
          expect(await page.locator("#messages").evaluate((box) => box.clientHeight)).toBeGreaterThan(100);
        } finally {
          await closePage(page);
        }
      }
    } finally {
      w.client.close();
    }
  });

  it("pages back to the first of 5,000 messages and down again, never holding more than a few pages", async () => {
    const room = "five-thousand";
    const w = await writer(room);
    const total = 5000;
    for (let from = 1; from <= total; from += 250) {
      await write(
        w,
        room,
        Array.from({ length: 250 }, (_, i) => `m ${from + i}`),
      );
    }
    const page = await openChat(browser, chat.url);
    const box = page.locator("#messages");
    const inPage = () => page.locator("#messages .msg").count();
    const edge = () => box.locator(".msg .text").first().textContent();
    const newest = () => box.locator(".msg .text").last().textContent();
    const scroll = (to: "top" | "bottom") =>
      box.evaluate((el, where) => {
        el.scrollTop = where === "top" ? 0 : el.scrollHeight;
        el.dispatchEvent(new Event("scroll"));
      }, to);
    let most = 0;
    try {
      await enterRoom(page, room);
      await roomMessages(page, `m ${total}`).waitFor();
      // Up: each scroll to the top brings the page before, until the room's first message.
      while ((await page.locator("#messages .history-start").count()) === 0) {
        const was = await edge();
        await scroll("top");
        await page.waitForFunction((text) => {
          const first = document.querySelector("#messages .msg .text");
          return first?.textContent !== text || document.querySelector("#messages .history-start") !== null;
        }, was);
        most = Math.max(most, await inPage());
      }
      expect(await edge()).toBe("m 1");
      expect(await page.locator("#messages .history-start").textContent()).toBe("Start of the conversation");
      // Down again: the newer messages come back as the reader reaches the end of what is shown.
      while ((await newest()) !== `m ${total}`) {
        const was = await newest();
        await scroll("bottom");
        await page.waitForFunction(
          (text) => document.querySelector("#messages .msg:last-of-type .text")?.textContent !== text,
          was,
        );
        most = Math.max(most, await inPage());
      }
      const shown = (await box.locator(".msg .text").allTextContents()).map((t) => Number(t.slice(2)));
      // What is in the page is one run of consecutive messages, ending with the newest.
      expect(shown).toEqual(Array.from({ length: shown.length }, (_, i) => total - shown.length + 1 + i));
      // And the oldest ones dropped on the way down load again on the way up.
      const top = shown[0] as number;
      await scroll("top");
      await roomMessages(page, `m ${top - 1}`).waitFor();
      expect(most).toBeLessThanOrEqual(300);
    } finally {
      w.client.close();
      await closePage(page);
    }
  }, 180_000);

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
