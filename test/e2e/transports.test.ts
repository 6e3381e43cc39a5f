import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { BROWSER_TEST_MS, launchBrowser, TRANSPORTS } from "../support/browser.js";
import { type Cluster, startCluster } from "./cluster.js";
import { twoUsersChat } from "./two-users.js";

let cluster: Cluster;
let browser: Browser;

beforeAll(async () => {
  // Each is kept as soon as it is up, so afterAll stops it even if the other failed to start.
  await Promise.all([startCluster().then((c) => (cluster = c)), launchBrowser().then((b) => (browser = b))]);
});
afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await cluster?.stop();
  }
});

// One case after the other: run side by side they only fight over the CPU and gain nothing.
describe("the web client in Chromium, one user on each of two nodes", { timeout: BROWSER_TEST_MS }, () => {
  it.each(TRANSPORTS)("over %s: chat, online list, private message and leave", async (transport) => {
    const [a, b] = cluster.nodes;
    await twoUsersChat(browser, a.url, b.url, transport);
  });
});
