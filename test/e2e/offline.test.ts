import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, closePage, launchBrowser, openChat, roomMessages, say, setNick } from "../support/browser.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { startRelay, type TcpRelay } from "../support/tcp-relay.js";
import { freshName } from "./two-users.js";

let browser: Browser;
let node: NodeProcess;
let relay: TcpRelay;
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
  await relay?.close();
});

async function user(base: string): Promise<Page> {
  const page = await openChat(browser, base);
  pages.push(page);
  await setNick(page, freshName("User"));
  return page;
}

/** One of the user's messages the server has not acknowledged, by its text. */
function pending(page: Page, text: string): Locator {
  return page.locator("#messages .outgoing").filter({ has: page.locator(".text").getByText(text, { exact: true }) });
}

/** The texts of the lobby's stored messages, in the order the page shows them. */
function texts(page: Page): Promise<string[]> {
  return page.locator("#messages .msg .text").allTextContents();
}

const unique = (text: string) => `${text} ${Math.random().toString(36).slice(2, 8)}`;

describe("the web client on a link that silently drops, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("notices the dead link, keeps the composer usable, and sends what was written meanwhile in order once back", async () => {
    relay = await startRelay(node.port);
    const ada = await user(relay.url);
    const grace = await user(node.url);

    relay.set("silent");
    const first = unique("written as the link died");
    await say(ada, first);
    await pending(ada, first).locator(".out-status").getByText("sending…").waitFor();

    // Nothing closes: only the unanswered ping tells the page, long before TCP would.
    await ada.locator("#offline").waitFor();
    await pending(ada, first).locator(".out-status").getByText("waiting for the connection…").waitFor();
    expect(await ada.locator("#text").isEnabled()).toBe(true);
    const second = unique("written offline");
    await ada.locator("#text").fill(second);
    await ada.locator("#text").press("Enter");
    await pending(ada, second).locator(".out-status").getByText("waiting for the connection…").waitFor();

    relay.set("pass");
    await pending(ada, first).waitFor({ state: "detached" });
    await pending(ada, second).waitFor({ state: "detached" });
    await ada.locator("#offline").waitFor({ state: "hidden" });
    const third = unique("after it came back");
    await say(ada, third);
    await roomMessages(grace, third).waitFor();
    const seen = (await texts(grace)).filter((t) => t === first || t === second || t === third);
    expect(seen).toEqual([first, second, third]);
  });

  it("sends what a closed page left unsent from the next page of the same browser", async () => {
    relay = await startRelay(node.port);
    const ada = await user(relay.url);
    const grace = await user(node.url);
    relay.set("silent");
    const left = unique("left behind");
    await say(ada, left);
    await ada.locator("#offline").waitFor();
    const context = ada.context();
    await ada.close();

    relay.set("pass");
    const again = await context.newPage();
    await again.goto(relay.url);
    await again.locator('body[data-state="online"]').waitFor();
    await roomMessages(grace, left).waitFor();
    await pending(again, left).waitFor({ state: "detached" });
    const later = unique("and after it");
    await say(again, later);
    await roomMessages(grace, later).waitFor();
    expect(await roomMessages(grace, left).count()).toBe(1);
  });

  it("stores a message whose ack was lost once, though the page sends it again after reconnecting", async () => {
    relay = await startRelay(node.port);
    const ada = await user(relay.url);
    const grace = await user(node.url);

    // The server gets the message and stores it; its ack never reaches the page.
    relay.set("no-replies");
    const lost = unique("ack lost");
    await say(ada, lost);
    await roomMessages(grace, lost).waitFor();
    await ada.locator("#offline").waitFor();

    relay.set("pass");
    await pending(ada, lost).waitFor({ state: "detached" });
    const later = unique("and then this");
    await say(ada, later);
    await roomMessages(grace, later).waitFor();
    await roomMessages(ada, later).waitFor();
    expect(await roomMessages(grace, lost).count()).toBe(1);
    expect(await roomMessages(ada, lost).count()).toBe(1);
  });
});
