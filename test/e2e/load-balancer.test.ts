import { randomBytes } from "node:crypto";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, closePage, launchBrowser, newPage, type Transport } from "../support/browser.js";
import { joinedUser, say, type User } from "../support/chat.js";
import { type Nginx, startNginx } from "../support/nginx.js";
import type { Transport as ClientTransport } from "../support/sockjs-client.js";
import { type Cluster, startCluster } from "./cluster.js";
import { twoUsersChat } from "./two-users.js";

let cluster: Cluster;
let browser: Browser;
let sticky: Nginx;
let roundRobin: Nginx;

beforeAll(async () => {
  // Each is kept as soon as it is up, so afterAll stops it even if the other failed to start.
  await Promise.all([startCluster().then((c) => (cluster = c)), launchBrowser().then((b) => (browser = b))]);
  const upstreams = cluster.nodes.map((node) => node.port);
  sticky = await startNginx({ upstreams, sticky: true });
  roundRobin = await startNginx({ upstreams, sticky: false });
});
afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await Promise.all([sticky?.stop(), roundRobin?.stop()]);
    await cluster?.stop();
  }
});

/**
 * Opens a SockJS session over xhr-polling through `base`, as sockjs-client
 * does, then sends it a frame four times; returns the HTTP status of each send.
 */
async function sendStatuses(base: string): Promise<number[]> {
  const session = `${base}/sock/000/${randomBytes(8).toString("hex")}`;
  const open = await fetch(`${session}/xhr`, { method: "POST" });
  expect(await open.text()).toBe("o\n");
  const frame = JSON.stringify([JSON.stringify({ action: "users", room: "lobby" })]);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const send = await fetch(`${session}/xhr_send`, { method: "POST", body: frame });
    await send.arrayBuffer();
    statuses.push(send.status);
  }
  return statuses;
}

/** Every value the page's body[data-state] takes from the start, in order. */
function recordLinkStates(): void {
  const seen: string[] = [];
  Object.assign(window, { linkStates: seen });
  new MutationObserver(() => {
    const state = document.body?.dataset.state;
    if (state && seen.at(-1) !== state) seen.push(state);
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state"] });
}

describe("behind nginx with sticky sessions, as in deploy/nginx.conf", { timeout: BROWSER_TEST_MS }, () => {
  const transports: Transport[] = ["websocket", "xhr-streaming", "xhr-polling"];
  it.each(transports)("over %s: chat, online list, private message and leave", async (transport) => {
    await twoUsersChat(browser, sticky.url, sticky.url, transport);
  });
});

describe("behind nginx with sticky sessions, users on different nodes", () => {
  // ip_hash keys an IPv4 client by its first three bytes: connecting from 127.0.K.1, for a few K, spreads the
  // test's clients over both nodes, as real users' addresses would be.
  const spread = async (transport: ClientTransport): Promise<[User, User]> => {
    const byNode = new Map<string, User>();
    for (let k = 1; k <= 32 && byNode.size < 2; k++) {
      const u = await joinedUser(sticky.url, { transport, localAddress: `127.0.${k}.1` });
      const node = u.id.split(".")[0] as string;
      if (byNode.has(node)) u.client.close();
      else byNode.set(node, u);
    }
    const users = [...byNode.values()];
    expect(users, "no two client addresses reached different nodes").toHaveLength(2);
    return users as [User, User];
  };

  it.each(["websocket", "xhr-streaming", "xhr-polling"] as const)(
    "over %s: messages and a private message cross between the nodes",
    async (transport) => {
      const [a, b] = await spread(transport);
      try {
        expect(a.id.split(".")[0]).not.toBe(b.id.split(".")[0]);
        const there = await say(a, `across nginx over ${transport}`);
        await b.client.action("message", (f) => f.mid === there);
        const back = await say(b, "and back");
        await a.client.action("message", (f) => f.mid === back);
        await a.client.send({ action: "pm", target: { id: b.id }, message: "just you" });
        await b.client.action("pm", (f) => f.message === "just you" && f.id === a.id);
      } finally {
        a.client.close();
        b.client.close();
      }
    },
  );
});

describe("behind nginx without sticky sessions (round-robin)", { timeout: BROWSER_TEST_MS }, () => {
  // A SockJS session exists only in the memory of the node that opened it.
  // Round-robin sends the xhr-polling page's next request, a poll or a send,
  // to the other node: a poll there opens a second session, and sockjs-client
  // closes with "Server lost session"; a send there is answered 404. Either
  // way the page drops offline before the answer to its first join arrives.
  it("the web client over xhr-polling keeps dropping offline and never gets into a room", async () => {
    const page = await newPage(browser);
    try {
      await page.addInitScript(recordLinkStates);
      await page.goto(`${roundRobin.url}/?transport=xhr-polling`);
      await page.waitForFunction(() => {
        const { linkStates } = window as unknown as { linkStates: string[] };
        return linkStates.filter((state) => state === "offline").length >= 3;
      });
      const states = await page.evaluate(() => (window as unknown as { linkStates: string[] }).linkStates);
      // Every connection opens, and is lost again before the lobby is joined.
      const cycle = ["connecting", "online", "offline"];
      expect(states.slice(0, 9)).toEqual([...cycle, ...cycle, ...cycle]);
      expect(await page.locator("#rooms li").count()).toBe(0);
      expect(await page.locator("#room-title").textContent()).toBe("No room");
    } finally {
      await closePage(page);
    }
  });

  it("sends reach the node holding the session only with stickiness", async () => {
    expect(await sendStatuses(sticky.url)).toEqual([204, 204, 204, 204]);
    // A round-robin nginx of its own, so that no earlier request has moved its counter.
    const fresh = await startNginx({ upstreams: cluster.nodes.map((node) => node.port), sticky: false });
    try {
      // The open went to one node; the sends alternate between the other (no such session) and it.
      expect(await sendStatuses(fresh.url)).toEqual([404, 204, 404, 204]);
    } finally {
      await fresh.stop();
    }
  });
});
