import { describe, it } from "vitest";
import { BROWSER_TEST_MS, TRANSPORTS } from "../support/browser.js";
import { clusterAndBrowser } from "./cluster.js";
import { twoUsersChat } from "./two-users.js";

const env = clusterAndBrowser();

// One case after the other: run side by side they only fight over the CPU and gain nothing.
describe("the web client in Chromium, one user on each of two nodes", { timeout: BROWSER_TEST_MS }, () => {
  it.each(TRANSPORTS)("over %s: chat, online list, private message and leave", async (transport) => {
    const [a, b] = env.cluster.nodes;
    await twoUsersChat(env.browser, a.url, b.url, transport);
  });
});
