import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  closePage,
  conversationEntry,
  currentRoom,
  launchBrowser,
  openChat,
  openConversation,
  roomMessages,
  say,
  setNick,
  showConversation,
  showRoom,
  systemLines,
} from "../support/browser.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { freshName } from "./two-users.js";

let browser: Browser;
let node: NodeProcess;
const pages: Page[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await Promise.all(pages.splice(0).map(closePage));
  await node?.stop();
});

async function user(name: string): Promise<Page> {
  const page = await openChat(browser, node.url);
  pages.push(page);
  await setNick(page, name);
  return page;
}

describe("drafts stay where they were typed, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("keeps a private draft in its conversation when the server forgets the other person, and never posts it to the lobby", async () => {
    // Embedded mode: the server keeps its users in memory, so a restart forgets every guest.
    node = await startNode({ PRESENCE_GRACE: "1" });
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await user(adaName);
    const grace = await user(graceName);
    await openConversation(ada, graceName);
    const secret = `only for Grace ${Math.random().toString(36).slice(2)}`;
    await ada.locator("#text").fill(secret);

    await node.stop();
    node = await startNode({ PRESENCE_GRACE: "1" }, node.port);

    // Ada's page comes back, asks for the conversation again, and hears that Grace is unknown now.
    const gone = `${graceName} is no longer known to the server. Nothing can be sent here; your draft stays.`;
    await systemLines(ada, gone).waitFor();
    await conversationEntry(ada, graceName).and(ada.locator("li.active.gone")).waitFor();
    expect(await ada.locator("#text").inputValue()).toBe(secret);
    await grace.locator('body[data-state="online"]').waitFor();
    await currentRoom(grace, "lobby").waitFor();

    // Enter in that conversation sends nothing anywhere, and the draft stays.
    await ada.locator("#text").press("Enter");
    await ada
      .locator(".notice-text")
      .getByText(`Not sent: ${graceName} is no longer known to the server`, { exact: false })
      .waitFor();
    expect(await ada.locator("#text").inputValue()).toBe(secret);

    // In the lobby the composer is empty; what Ada writes there reaches Grace, and the secret before it never did.
    await showRoom(ada, "lobby");
    expect(await ada.locator("#text").inputValue()).toBe("");
    const later = `in public ${Math.random().toString(36).slice(2)}`;
    await say(ada, later);
    await roomMessages(grace, later).waitFor();
    expect(await roomMessages(grace, secret).count()).toBe(0);
    expect(await roomMessages(ada, secret).count()).toBe(0);

    // The draft is back in its conversation, and still there after a reload.
    await showConversation(ada, graceName);
    expect(await ada.locator("#text").inputValue()).toBe(secret);
    await ada.reload();
    await ada.locator('body[data-state="online"]').waitFor();
    await conversationEntry(ada, graceName).and(ada.locator("li.gone")).waitFor();
    await showConversation(ada, graceName);
    expect(await ada.locator("#text").inputValue()).toBe(secret);
  });

  it("gives each room its own draft when the user moves between them", async () => {
    node = await startNode();
    const ada = await user(freshName("Ada"));
    await ada.locator("#room-input").fill("drafts-elsewhere");
    await ada.locator("#join-form button[type=submit]").click();
    await currentRoom(ada, "drafts-elsewhere").waitFor();
    await ada.locator("#text").fill("half a thought for elsewhere");
    await showRoom(ada, "lobby");
    expect(await ada.locator("#text").inputValue()).toBe("");
    await ada.locator("#text").fill("for the lobby");
    await showRoom(ada, "drafts-elsewhere");
    expect(await ada.locator("#text").inputValue()).toBe("half a thought for elsewhere");
    await showRoom(ada, "lobby");
    expect(await ada.locator("#text").inputValue()).toBe("for the lobby");
  });
});
