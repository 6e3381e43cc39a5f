import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  closePage,
  currentRoom,
  launchBrowser,
  openChat,
  setNick,
  showRoom,
} from "../support/browser.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { freshName, freshRoom } from "./two-users.js";

let browser: Browser;
let node: NodeProcess;
const pages: Page[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  node = await startNode();
});
afterAll(async () => {
  await browser?.close();
  await node?.stop();
});
afterEach(async () => {
  await Promise.all(pages.splice(0).map(closePage));
});

async function user(): Promise<Page> {
  const page = await openChat(browser, node.url);
  pages.push(page);
  return page;
}

describe("the web client's smaller promises, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("puts the name in use back in the name box when a new one is refused", async () => {
    const ada = await user();
    const name = freshName("Ada");
    await setNick(ada, name);
    await ada.locator("#nick").fill("you");
    await ada.locator("#nick-form button[type=submit]").click();
    await ada.locator(".notice").getByText("'you' is reserved").waitFor();
    expect(await ada.locator("#nick").inputValue()).toBe(name);
  });

  it("makes a room name with spaces a room with dashes", async () => {
    const ada = await user();
    const tag = freshRoom("x").slice("x-".length);
    await ada.locator("#room-input").fill(`Design Team ${tag}`);
    await ada.locator("#join-form button[type=submit]").click();
    await currentRoom(ada, `design-team-${tag}`).waitFor();
  });

  it("comes back after a reload to the room that was on screen", async () => {
    const ada = await user();
    const room = freshRoom("back-here");
    await ada.locator("#room-input").fill(room);
    await ada.locator("#join-form button[type=submit]").click();
    await currentRoom(ada, room).waitFor();
    await showRoom(ada, "lobby");
    await showRoom(ada, room);
    await ada.reload();
    await currentRoom(ada, room).waitFor();
  });
});
