import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, closePage, newPage } from "../support/browser.js";
import { clusterAndBrowser } from "./cluster.js";

const ORIGINAL_PAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../original-page/index.html");

const env = clusterAndBrowser();

/**
 * Opens the original page as if `base` served it: same origin as the node, so
 * its /vendor/sockjs.min.js and /sock are the node's. Resolves with the name
 * its welcome line gives the user.
 */
async function openOriginal(base: string): Promise<{ page: Page; name: string }> {
  const page = await newPage(env.browser);
  await page.route("**/original.html", (route) => route.fulfill({ path: ORIGINAL_PAGE }));
  await page.goto(`${base}/original.html`);
  const welcome = page.locator("#log li").getByText(/^Welcome! /);
  await welcome.waitFor();
  const name = (await welcome.textContent())?.replace("Welcome! ", "") ?? "";
  return { page, name };
}

function line(page: Page, text: string) {
  return page.locator("#log li").getByText(text, { exact: true });
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator("#text").fill(text);
  await page.locator("#form button[type=submit]").click();
}

describe("the original page, in Chromium on two nodes", { timeout: BROWSER_TEST_MS }, () => {
  it("shows joins, messages both ways, a private message and a leave", async () => {
    const [a, b] = env.cluster.nodes;
    const ada = await openOriginal(a.url);
    // Opened after Ada's, so that Ada is there to see Grace join.
    const grace = await openOriginal(b.url);
    try {
      expect(ada.name).toMatch(/^User #\d{6}$/);
      await line(ada.page, `${grace.name} joined.`).waitFor();

      await say(ada.page, "hello from the old page");
      await line(ada.page, "You : hello from the old page").waitFor();
      await line(grace.page, `${ada.name} : hello from the old page`).waitFor();

      await say(grace.page, "hi, still works");
      await line(grace.page, "You : hi, still works").waitFor();
      await line(ada.page, `${grace.name} : hi, still works`).waitFor();

      await line(ada.page, `${grace.name} joined.`).click();
      await say(ada.page, "psst");
      await line(grace.page, `${ada.name} pm you : psst`).waitFor();
      await line(ada.page, `you pm ${grace.name} : psst`).waitFor();

      await closePage(grace.page);
      await line(ada.page, `${grace.name} left.`).waitFor();

      // Newest first, and nothing but what the original protocol says.
      expect(await ada.page.locator("#log li").allTextContents()).toEqual([
        `${grace.name} left.`,
        `you pm ${grace.name} : psst`,
        `${grace.name} : hi, still works`,
        "You : hello from the old page",
        `${grace.name} joined.`,
        `Welcome! ${ada.name}`,
      ]);
    } finally {
      await Promise.all([closePage(ada.page), closePage(grace.page)]);
    }
  });
});
