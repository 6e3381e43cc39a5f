import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  closePage,
  currentRoom,
  enterRoom,
  launchBrowser,
  openChat,
  roomMessages,
  say,
  setNick,
  showRoom,
} from "../support/browser.js";
import { connectUser, joinRoom, type User, say as write } from "../support/chat.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { freshName, freshRoom } from "./two-users.js";

let browser: Browser;
let node: NodeProcess;
const pages: Page[] = [];
const writers: User[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  // The writer fills a room faster than the default rate limit lets one connection.
  node = await startNode({ RATE_LIMIT: "0" });
});
afterAll(async () => {
  await browser?.close();
  await node?.stop();
});
afterEach(async () => {
  for (const w of writers.splice(0)) w.client.close();
  await Promise.all(pages.splice(0).map(closePage));
});

function badge(page: Page, room: string) {
  return page.locator(`#rooms li[data-room="${room}"] .badge`);
}

describe("what the web client counts as read, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("counts none of the user's own messages as unread after a reload", async () => {
    const room = freshRoom("own");
    const ada = await openChat(browser, node.url);
    pages.push(ada);
    await setNick(ada, freshName("Ada"));
    await enterRoom(ada, room);
    for (const text of ["one", "two", "three"]) {
      await say(ada, text);
      await roomMessages(ada, text).waitFor();
    }
    await showRoom(ada, "lobby");
    await ada.reload();
    await currentRoom(ada, "lobby").waitFor();
    await ada.locator(`#rooms li[data-room="${room}"]`).waitFor();
    await showRoom(ada, room);
    await roomMessages(ada, "three").waitFor();
    expect(await ada.locator("#messages .new-line").count()).toBe(0);
    await showRoom(ada, "lobby");
    expect(await badge(ada, room).count()).toBe(0);
  });

  it("leaves unread what arrives below a reader scrolled up, and offers to jump to it", async () => {
    const room = freshRoom("below");
    const writer = await connectUser(node.url, { query: "lobby=0&proto=2" });
    writers.push(writer);
    await joinRoom(writer, room);
    for (let i = 1; i <= 40; i++) await write(writer, `filler ${i}`, room);
    const ada = await openChat(browser, node.url);
    pages.push(ada);
    await enterRoom(ada, room);
    await roomMessages(ada, "filler 40").waitFor();
    await ada.locator("#messages").evaluate((box) => {
      box.scrollTop = 0;
      box.dispatchEvent(new Event("scroll"));
    });

    for (const text of ["below 1", "below 2", "below 3"]) await write(writer, text, room);
    await roomMessages(ada, "below 3").waitFor({ state: "attached" });
    await ada.locator("#jump").getByText("3 new messages ↓").waitFor();
    // Not seen, so not read: the room counts them once the reader looks elsewhere.
    await showRoom(ada, "lobby");
    await badge(ada, room).getByText("3", { exact: true }).waitFor();

    await showRoom(ada, room);
    await ada.locator("#jump").click();
    await ada.locator("#jump").waitFor({ state: "hidden" });
    await showRoom(ada, "lobby");
    expect(await badge(ada, room).count()).toBe(0);
  });
});
