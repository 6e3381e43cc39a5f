import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Locator, Page } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import {
  closePage,
  conversationEntry,
  currentRoom,
  drawn,
  enterRoom,
  joinAs,
  newPage,
  openChat,
  openConversation,
  type PageOptions,
  roomMessages,
  say,
  senderOf,
  setNick,
  showConversation,
  showRoom,
} from "../support/browser.js";
import { connectUser, joinRoom, type User } from "../support/chat.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { clusterAndBrowser } from "./cluster.js";
import { freshName, freshRoom } from "./two-users.js";

/** Put into the page by evaluation: the chat's Content-Security-Policy rightly refuses inline scripts. */
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs");
/** Each case here drives two or three pages through a dozen steps: well under this on an idle machine. */
const UX_TEST_MS = 45_000;

const env = clusterAndBrowser();
const pages: Page[] = [];
const nodes: NodeProcess[] = [];
const writers: User[] = [];

afterEach(async () => {
  for (const w of writers.splice(0)) w.client.close();
  await Promise.all(pages.splice(0).map(closePage));
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

/** A user on node `node` of the cluster (or on `base`), named `name`, in `room`. */
async function userIn(node: 0 | 1 | string, name: string, room: string, options: PageOptions = {}): Promise<Page> {
  const base = typeof node === "string" ? node : env.cluster.nodes[node].url;
  const page = await joinAs(env.browser, base, name, room, options);
  pages.push(page);
  return page;
}

/**
 * Makes the page believe its tab went to the background: the browser has no
 * way to hide a headless tab, and the page only reads `visibilityState`.
 */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hide) => {
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => (hide ? "hidden" : "visible"),
    });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => hide });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** The last message in the place on screen. */
function lastMessage(page: Page): Locator {
  return page.locator("#messages .msg").last();
}

/** The stored message whose text is exactly `text` (room or conversation), in the place on screen. */
function message(page: Page, text: string): Locator {
  return page.locator("#messages .msg").filter({ has: page.locator(".text").getByText(text, { exact: true }) });
}

/** A node of its own, for history the cluster's rate limit would not let a writer fill quickly. */
/**
 * A node that keeps 150 messages a room: embedded, that is what a join shows
 * (the archive keeps them all); on the cluster's Redis, it is all that is kept.
 */
async function historyNode(where: "embedded" | "Redis" = "embedded"): Promise<NodeProcess> {
  const redis: Record<string, string> = where === "Redis" ? { REDIS_URL: env.cluster.redis.url } : {};
  const node = await startNode({ RATE_LIMIT: "0", HISTORY_SIZE: "150", ...redis });
  nodes.push(node);
  return node;
}

/** A client that is not a browser, to write a room's history quickly. */
async function writer(base: string, room: string): Promise<User> {
  const u = await connectUser(base, { query: "lobby=0&proto=2" });
  writers.push(u);
  await joinRoom(u, room);
  return u;
}

/** Sends `requests` at once and waits for the last one's ack. */
async function sendAll(u: User, requests: Record<string, unknown>[]): Promise<void> {
  const tag = Math.random().toString(36).slice(2);
  await u.client.sendFrame(requests.map((r, i) => JSON.stringify({ ...r, ref: `${tag}-${i}` })));
  await u.client.action("ack", (f) => f.ref === `${tag}-${requests.length - 1}`);
}

/** Scrolls the list to its top until `done` holds (older pages load as the reader gets there). */
async function scrollBack(page: Page, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 20 && !(await done()); i++) {
    await page.locator("#messages").evaluate((box) => {
      box.scrollTop = 0;
      box.dispatchEvent(new Event("scroll"));
    });
    await page.waitForTimeout(200);
  }
}

/** The id of what has the keyboard's focus. */
function focused(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? "");
}

describe("the web client's conversation features, in Chromium", { timeout: UX_TEST_MS }, () => {
  it("sends several lines, typed or pasted, and refuses an over-long text without losing it", async () => {
    const room = freshRoom("lines");
    const ada = await userIn(0, freshName("Ada"), room);
    const grace = await userIn(1, freshName("Grace"), room);
    const text = ada.locator("#text");

    await text.pressSequentially("para one");
    await text.press("Shift+Enter");
    await text.press("Shift+Enter");
    await text.pressSequentially("para two");
    await text.press("Enter");
    await expect.poll(() => lastMessage(grace).locator(".text").textContent()).toBe("para one\n\npara two");
    expect(await text.inputValue()).toBe("");

    await ada.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await ada.evaluate(() => navigator.clipboard.writeText("pasted one\n\npasted two"));
    await text.focus();
    await ada.keyboard.press("ControlOrMeta+V");
    expect(await text.inputValue()).toBe("pasted one\n\npasted two");
    await text.press("Enter");
    await expect.poll(() => lastMessage(grace).locator(".text").textContent()).toBe("pasted one\n\npasted two");

    // Near the limit a counter shows; past it the page refuses to send and keeps every character.
    const counter = ada.locator("#counter");
    expect(await counter.isHidden()).toBe(true);
    await text.fill("x".repeat(3999));
    await counter.getByText("3999 / 4000").waitFor();
    await text.pressSequentially("yz");
    await counter.getByText("4001 / 4000").waitFor();
    expect(await counter.getAttribute("class")).toContain("over");
    await text.press("Enter");
    await ada.locator(".notice").getByText("Not sent: 1 character too long (at most 4000)").waitFor();
    expect(await text.inputValue()).toBe(`${"x".repeat(3999)}yz`);
    await text.fill("fits");
    expect(await counter.isHidden()).toBe(true);
  });

  it("makes a web address a link that opens apart from the chat", async () => {
    const room = freshRoom("links");
    const ada = await userIn(0, freshName("Ada"), room);
    const grace = await userIn(1, freshName("Grace"), room);
    const url = `${env.cluster.nodes[1].url}/healthz`;
    await say(ada, `status is at ${url}.`);
    const link = roomMessages(grace, `status is at ${url}.`).locator(".text a");
    expect(await link.getAttribute("href")).toBe(url);
    expect(await link.textContent()).toBe(url);

    const [opened] = await Promise.all([grace.context().waitForEvent("page"), link.click()]);
    await opened.waitForLoadState();
    expect(opened.url()).toBe(url);
    expect(await opened.evaluate(() => window.opener)).toBeNull();
    expect(JSON.parse((await opened.locator("body").textContent()) ?? "")).toMatchObject({ status: "ok" });
    // The chat stayed where it was (its address names the room on screen).
    expect(grace.url()).toBe(`${env.cluster.nodes[1].url}/#/room/${room}`);
  });

  it("sets code apart, a span and a block, as text: no link, no markup inside", async () => {
    const room = freshRoom("code");
    const ada = await userIn(0, freshName("Ada"), room);
    const grace = await userIn(1, freshName("Grace"), room);
    const text = "run `npm test` first, then:\n```\nnpm start <b>https://example.com</b>\n```";
    await grace.locator("#text").fill(text);
    await grace.locator("#send").click();
    const shown = ada.locator("#messages .msg .text").filter({ has: ada.locator(".code-span") });
    await shown.waitFor();
    expect(await shown.locator(".code-span code").textContent()).toBe("npm test");
    expect(await shown.locator("pre.code-block code").textContent()).toBe("npm start <b>https://example.com</b>");
    // What the eye sees: the code's first line is its first line, with no empty one above it.
    // biome-ignore lint/performance/useDomNodeTextContent: the text as drawn is what this checks
    expect(await shown.locator("pre.code-block").innerText()).toBe("npm start <b>https://example.com</b>");
    expect(await shown.locator("a, b").count()).toBe(0);
    // The backticks stay in the text, hidden: what is copied or read is what was sent.
    expect(await shown.textContent()).toBe(text);
    expect(await shown.locator(".md").first().isVisible()).toBe(false);
  });

  it("completes @name, highlights a mention for the one named, counts it apart and tells a hidden tab", async () => {
    const room = freshRoom("mention");
    const other = freshRoom("elsewhere");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    // Grace lets the page notify her; the headless browser has no notification centre, so one is stood in.
    const grace = await newPage(env.browser);
    pages.push(grace);
    await grace.addInitScript(() => {
      const shown: { title: string; body: string; onclick: (() => void) | null }[] = [];
      class StandIn {
        static permission = "default";
        static async requestPermission() {
          StandIn.permission = "granted";
          return "granted";
        }
        onclick: (() => void) | null = null;
        constructor(
          readonly title: string,
          options: { body?: string } = {},
        ) {
          shown.push(Object.assign(this, { body: options.body ?? "" }));
        }
        close() {}
      }
      Object.assign(window, { Notification: StandIn, shownNotifications: shown });
    });
    await grace.goto(`${env.cluster.nodes[1].url}/`);
    await currentRoom(grace, "lobby").waitFor();
    await setNick(grace, graceName);
    await enterRoom(grace, room);
    await enterRoom(grace, other);
    // Asked only when the user clicks; then the control has done its job.
    const enable = grace.locator("#notify");
    await enable.getByText("Enable notifications").waitFor();
    await enable.click();
    await enable.waitFor({ state: "hidden" });

    // Ada picks Grace from the list the composer offers, by keyboard.
    const text = ada.locator("#text");
    await text.pressSequentially(`@${graceName.slice(0, 3)}`);
    // Grace is a guest: offered marked, as her name is everywhere else, though the mark is not what is typed.
    const option = ada.locator("#mention-list [role=option]").filter({ hasText: graceName });
    await option.waitFor();
    expect(await option.textContent()).toBe(`${graceName} (guest)`);
    expect(await option.locator(".guest-badge").count()).toBe(1);
    expect(await text.getAttribute("aria-activedescendant")).toBe(await option.getAttribute("id"));
    await text.press("Enter");
    expect(await text.inputValue()).toBe(`@${graceName} `);
    await ada.locator("#mention-list").waitFor({ state: "hidden" });
    await setHidden(grace, true);
    await say(ada, "nothing for anyone in particular");
    await text.pressSequentially(`@${graceName.slice(0, 3)}`);
    await option.waitFor();
    await text.press("Tab");
    await text.pressSequentially("can you review this?");
    await text.press("Enter");
    const mention = `@${graceName} can you review this?`;
    await roomMessages(ada, mention).waitFor();
    // Ada's own copy mentions Ada nobody: nothing is marked for her.
    expect(await roomMessages(ada, mention).getAttribute("class")).not.toContain("mention");

    // Grace, in another room with her tab hidden: the room counts two unread, one of them for her.
    const entry = grace.locator(`#rooms li[data-room="${room}"]`);
    await entry.locator(".badge").getByText("2", { exact: true }).waitFor();
    await entry.locator(".mentions-count").getByText("@1", { exact: true }).waitFor();
    await expect.poll(() => grace.title()).toBe("(2 new, 1 mention) redis-sockjs-chat");
    const shown = () =>
      grace.evaluate(() =>
        (window as unknown as { shownNotifications: { title: string; body: string }[] }).shownNotifications.map(
          ({ title, body }) => ({ title, body }),
        ),
      );
    await expect.poll(shown).toEqual([{ title: `${adaName} in #${room}`, body: mention }]);

    // The notification opens the room, where the message is marked for her.
    await grace.evaluate(() =>
      (window as unknown as { shownNotifications: { onclick: () => void }[] }).shownNotifications[0]?.onclick(),
    );
    await currentRoom(grace, room).waitFor();
    const marked = roomMessages(grace, mention);
    expect(await marked.getAttribute("class")).toContain("mention");
    expect(await marked.locator("mark.mention").textContent()).toBe(`@${graceName}`);
    expect(await roomMessages(grace, "nothing for anyone in particular").getAttribute("class")).not.toContain(
      "mention",
    );
    await setHidden(grace, false);
    await expect.poll(() => grace.title()).toBe("redis-sockjs-chat");
    await entry.locator(".mentions-count").waitFor({ state: "detached" });

    // Muted, the room shows that something is unread but not how much, and notifies no more.
    await grace.locator("#mute").click();
    expect(await grace.locator("#mute").getAttribute("aria-pressed")).toBe("true");
    await showRoom(grace, other);
    await setHidden(grace, true);
    await say(ada, `@${graceName} and again`);
    await entry.locator(".unread-dot").waitFor();
    await entry.locator(".mentions-count").getByText("@1", { exact: true }).waitFor();
    expect(await entry.locator(".badge").count()).toBe(0);
    expect(await shown()).toHaveLength(1);
    // Someone who writes first opens a conversation, and its first message is announced too.
    await openConversation(ada, graceName);
    await say(ada, "a word in private");
    await expect.poll(async () => (await shown()).at(-1)).toEqual({ title: adaName, body: "a word in private" });
    expect(await shown()).toHaveLength(2);
    // The mute is this browser's choice and outlives a reload.
    await grace.reload();
    await grace.locator(`#rooms li.muted[data-room="${room}"]`).waitFor();
  });

  it("groups one sender's messages, puts a day line before the first, and reads each as sender, time, text", async () => {
    const room = freshRoom("groups");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    const said: [Page, string][] = [
      [ada, "first of a run"],
      [ada, "second of a run"],
      [ada, "third of a run"],
      [grace, "an answer"],
      [ada, "Ada again"],
    ];
    for (const [page, text] of said) {
      await say(page, text);
      await roomMessages(grace, text).waitFor();
    }
    const layout = (page: Page) =>
      page
        .locator("#messages .log > *")
        .evaluateAll((nodes) =>
          nodes.map((n) =>
            n.classList.contains("msg")
              ? `${n.classList.contains("grouped") ? "  " : ""}${n.querySelector(".text")?.textContent}`
              : `[${n.textContent}]`,
          ),
        );
    const expected = [
      "[Start of the conversation]",
      "[Today]",
      "first of a run",
      "  second of a run",
      "  third of a run",
      "an answer",
      "Ada again",
    ];
    // The join lines come before the first message, and end no run of it.
    const messagesOnly = async (page: Page) => (await layout(page)).filter((l) => !l.includes("joined]"));
    expect(await messagesOnly(grace)).toEqual(expected);
    // Grouped messages still say who wrote them, to tests and screen readers; only the eye is spared the repeat.
    expect(await senderOf(roomMessages(grace, "third of a run"))).toBe(adaName);
    const width = async (text: string) => (await roomMessages(grace, text).locator(".meta").boundingBox())?.width;
    expect(await width("third of a run")).toBeLessThanOrEqual(1);
    expect(await width("first of a run")).toBeGreaterThan(10);
    const spoken = await roomMessages(grace, "second of a run").evaluate(
      (node) => `${node.querySelector(".meta")?.textContent}${node.querySelector(".text")?.textContent}`,
    );
    // Ada is a guest here, and is heard as one.
    expect(spoken).toMatch(new RegExp(`^${adaName} \\(guest\\), \\d{1,2}:\\d{2}( [AP]M)?, second of a run$`));

    // A reload replays the same history into the same layout.
    await grace.reload();
    await grace.locator('body[data-state="online"]').waitFor();
    await showRoom(grace, room);
    await roomMessages(grace, "Ada again").waitFor();
    expect(await messagesOnly(grace)).toEqual(expected);
  });

  it("lists a long name with its badges under its first letter rather than under the avatar", async () => {
    const room = freshRoom("names");
    const long = await userIn(0, "Maximiliane Wunderlich-Oberhof", room);
    const short = await userIn(1, freshName("Bo"), room);
    const entry = long.locator("#users li.user.me");
    await entry.locator(".self-badge").waitFor();
    await short.locator("#users li.user:not(.me) .guest-badge").waitFor();
    const [name, badge, avatar] = await Promise.all(
      [".user-name", ".guest-badge", ".avatar"].map((s) => entry.locator(s).first()),
    ).then((ls) => Promise.all(ls.map((l) => l.evaluate((n) => n.getBoundingClientRect().toJSON() as DOMRect))));
    const text = await entry.locator(".user-name").evaluate((n) => {
      const range = document.createRange();
      range.selectNodeContents(n);
      return [...range.getClientRects()].map((r) => r.left);
    });
    // Too long for one line beside the avatar: the badges take the next line, starting where the name's text does.
    expect(badge?.top).toBeGreaterThanOrEqual((name?.bottom ?? 0) - 1);
    expect(Math.abs((badge?.left ?? 0) - Math.min(...text))).toBeLessThanOrEqual(2);
    expect(badge?.left).toBeGreaterThan(avatar?.right ?? 0);
  });

  it("says at once that someone is typing, and stops saying it when their message comes", async () => {
    const room = freshRoom("typing");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    const typing = ada.locator("#typing");
    const text = grace.locator("#text");
    await text.press("h");
    await typing.getByText(`${graceName} (guest) is typing…`).waitFor({ timeout: 1500 });
    // Sent, and straight on with the next message: well within the two seconds between repeats.
    await text.pressSequentially("ello");
    await text.press("Enter");
    await text.press("x");
    await roomMessages(ada, "hello").waitFor();
    // The next message's first key is told at once, like the first one's.
    await typing.getByText(`${graceName} (guest) is typing…`).waitFor({ timeout: 1500 });
    // Emptied, the composer tells nothing more, and the line goes within seconds.
    await text.press("Backspace");
    await expect.poll(() => typing.textContent(), { timeout: 5000 }).toBe("");
  });

  it("moves the keyboard to the composer after a join, a room switch and a leave", async () => {
    const [first, second] = [freshRoom("focus"), freshRoom("focus")];
    const ada = await userIn(0, freshName("Ada"), first);
    expect(await focused(ada)).toBe("text");
    await ada.locator("#room-input").fill(second);
    await ada.locator("#room-input").press("Enter");
    await currentRoom(ada, second).waitFor();
    await expect.poll(() => focused(ada)).toBe("text");

    await ada.locator(`#rooms li[data-room="${first}"] .room-name`).focus();
    await ada.keyboard.press("Enter");
    await currentRoom(ada, first).waitFor();
    expect(await focused(ada)).toBe("text");

    const leave = ada.locator(`#rooms li[data-room="${first}"] .leave`);
    expect(await leave.getAttribute("aria-label")).toBe(`Leave #${first}`);
    await leave.focus();
    await ada.keyboard.press("Enter");
    await ada.locator(`#rooms li.active:not([data-room="${first}"])`).waitFor();
    expect(await focused(ada)).toBe("text");
  });

  it("scrolls back to the start of what is kept, and says where that is", async () => {
    const node = await historyNode();
    const [whole, trimmed] = [freshRoom("whole"), freshRoom("trimmed")];
    const w = await writer(node.url, whole);
    await sendAll(
      w,
      Array.from({ length: 130 }, (_, i) => ({ action: "message", room: whole, message: `line ${i + 1}` })),
    );
    // 170 written where Redis keeps 150 (the embedded archive keeps every one): the first 20 are gone.
    const windowed = await historyNode("Redis");
    const r = await writer(windowed.url, trimmed);
    await sendAll(
      r,
      Array.from({ length: 170 }, (_, i) => ({ action: "message", room: trimmed, message: `old ${i + 1}` })),
    );
    const page = await openChat(env.browser, node.url);
    pages.push(page);

    await enterRoom(page, whole);
    await roomMessages(page, "line 130").waitFor();
    expect(await page.locator("#messages .history-start").count()).toBe(0);
    await scrollBack(page, async () => (await roomMessages(page, "line 1").count()) > 0);
    await page.locator("#messages .history-start").getByText("Start of the conversation").waitFor();
    // The line heads the list, above the day and the first message.
    expect(await page.locator("#messages .log > *").first().textContent()).toBe("Start of the conversation");
    // One writer, a few seconds: one run on one day, across the pages it came in; the unread line, above
    // what was first shown, breaks it.
    expect(await page.locator("#messages .msg").count()).toBe(130);
    expect(await page.locator("#messages .new-line + .msg .text").textContent()).toBe("line 31");
    expect(await page.locator("#messages .msg:not(.grouped) .text").allTextContents()).toEqual(["line 1", "line 31"]);
    expect(await page.locator("#messages .day").count()).toBe(1);

    const onRedis = await openChat(env.browser, windowed.url);
    pages.push(onRedis);
    await enterRoom(onRedis, trimmed);
    await roomMessages(onRedis, "old 170").waitFor();
    await scrollBack(onRedis, async () => (await roomMessages(onRedis, "old 21").count()) > 0);
    await onRedis.locator("#messages .history-start").getByText("Older messages are no longer kept").waitFor();
    expect(await roomMessages(onRedis, "old 20").count()).toBe(0);
  });

  it("has no serious accessibility violations, in light and dark", async () => {
    const room = freshRoom("a11y");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    // Something of everything the list draws: one's own message edited, a link, a reaction, a run after a
    // mention (which has its own colours), and a direct message that mentions, unread.
    const said: [Page, string][] = [
      [ada, "my own message"],
      [grace, "a plain message with https://example.com/a link"],
      [ada, "a word in between"],
      [grace, `@${adaName} a mention, then a run`],
      [grace, "and more of the run"],
    ];
    for (const [page, text] of said) {
      await say(page, text);
      await roomMessages(ada, text).waitFor();
    }
    await openConversation(grace, adaName);
    await say(grace, `@${adaName} a direct mention`);
    await conversationEntry(ada, graceName).locator(".mentions-count").waitFor();
    await message(ada, "a plain message with https://example.com/a link").locator('[data-act="pick"]').click();
    await ada.locator(".picker").getByRole("button", { name: "React with heart" }).click();
    await ada.locator("#messages .reaction").waitFor();
    await message(ada, "my own message").locator('[data-act="edit"]').click();
    await ada.locator("#text").fill("my own message, edited");
    await ada.locator("#text").press("Enter");
    await message(ada, "my own message, edited").locator(".edited").waitFor();
    // Open what opens: the reaction picker, and the list of names to mention.
    await message(ada, "and more of the run").locator('[data-act="pick"]').click();
    await ada.locator(".picker").waitFor();
    await ada.locator("#text").pressSequentially(`@${graceName.slice(0, 2)}`);
    await ada.locator("#mention-list [role=option]").first().waitFor();

    await ada.evaluate(AXE);
    for (const colorScheme of ["light", "dark"] as const) {
      await ada.emulateMedia({ colorScheme });
      const violations = await ada.evaluate(async () => {
        const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
        type AxeViolation = { id: string; impact: string; nodes: { target: string[] }[] };
        const { violations } = await axe.run();
        return violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      });
      expect(violations, colorScheme).toEqual([]);
    }
  });

  it("shows another user's edit, deletion and reactions as they happen, and after a reload", async () => {
    const room = freshRoom("changes");
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    const ada = await userIn(0, adaName, room);
    const grace = await userIn(1, graceName, room);
    for (const text of ["a tpyo here", "regrettable", "react to me"]) {
      await say(ada, text);
      await roomMessages(grace, text).waitFor();
    }
    // Only one's own messages can be edited or deleted.
    expect(await message(grace, "a tpyo here").locator('[data-act="edit"]').count()).toBe(0);

    await message(ada, "a tpyo here").locator('[data-act="edit"]').click();
    const text = ada.locator("#text");
    expect(await text.inputValue()).toBe("a tpyo here");
    await ada.locator("#edit-bar").waitFor();
    await text.fill("a typo here, fixed");
    await text.press("Enter");
    const edited = message(grace, "a typo here, fixed");
    await edited.locator(".edited").getByText("(edited)").waitFor();
    expect(await message(grace, "a tpyo here").count()).toBe(0);
    expect(await ada.locator("#edit-bar").isHidden()).toBe(true);
    // Escape gives up an edit and brings back what was being written.
    await text.fill("a draft");
    await message(ada, "react to me").locator('[data-act="edit"]').click();
    expect(await text.inputValue()).toBe("react to me");
    await text.press("Escape");
    expect(await text.inputValue()).toBe("a draft");

    // Deleting asks for a second click.
    const del = message(ada, "regrettable").locator('[data-act="delete"]');
    await del.click();
    await del.getByText("Delete?").waitFor();
    await del.click();
    await grace.locator("#messages .msg.deleted .text").getByText("message deleted").waitFor();
    expect(await roomMessages(grace, "regrettable").count()).toBe(0);

    // Grace reacts through the picker; Ada sees it, and sees it taken back.
    await message(grace, "react to me").locator('[data-act="pick"]').click();
    await grace.locator(".picker").getByRole("button", { name: "React with thumbs up" }).click();
    const adaChip = message(ada, "react to me").locator(".reaction");
    await adaChip.getByText("👍 1").waitFor();
    expect(await adaChip.getAttribute("aria-pressed")).toBe("false");
    const graceChip = message(grace, "react to me").locator(".reaction");
    await graceChip.getByText("👍 1").waitFor();
    expect(await graceChip.getAttribute("aria-pressed")).toBe("true");
    await message(ada, "react to me").locator('[data-act="pick"]').click();
    await ada.locator(".picker").getByRole("button", { name: "React with thumbs up" }).click();
    await graceChip.getByText("👍 2").waitFor();
    await graceChip.click();
    await adaChip.getByText("👍 1").waitFor();
    expect(await adaChip.getAttribute("aria-pressed")).toBe("true");
    // Changes are not messages: they leave nothing unread, as a message does.
    await showRoom(grace, "lobby");
    await message(ada, "react to me").locator('[data-act="pick"]').click();
    await ada.locator(".picker").getByRole("button", { name: "React with party" }).click();
    await message(ada, "react to me").locator(".reaction").getByText("🎉 1").waitFor();
    const badge = grace.locator(`#rooms li[data-room="${room}"] .badge`);
    expect(await badge.count()).toBe(0);
    await say(ada, "one more");
    await badge.getByText("1", { exact: true }).waitFor();
    await showRoom(grace, room);

    // A page that comes later builds the same state from history.
    await grace.reload();
    await grace.locator('body[data-state="online"]').waitFor();
    await showRoom(grace, room);
    await message(grace, "react to me").locator(".reaction").first().waitFor();
    await message(grace, "a typo here, fixed").locator(".edited").waitFor();
    await grace.locator("#messages .msg.deleted").getByText("message deleted").waitFor();
    expect(await message(grace, "react to me").locator(".reaction").allTextContents()).toEqual(["👍 1", "🎉 1"]);
    expect(await grace.locator("#messages .msg .text").allTextContents()).toEqual([
      "a typo here, fixed",
      "message deleted",
      "react to me",
      "one more",
    ]);

    // The same in a conversation: a reaction and an edit of a direct message.
    await openConversation(grace, adaName);
    await say(grace, "just between us");
    await showConversation(ada, graceName);
    await message(ada, "just between us").locator('[data-act="pick"]').click();
    await ada.locator(".picker").getByRole("button", { name: "React with laughing" }).click();
    await message(grace, "just between us").locator(".reaction").getByText("😂 1").waitFor();
    await message(grace, "just between us").locator('[data-act="edit"]').click();
    await grace.locator("#text").fill("just between the two of us");
    await grace.locator("#text").press("Enter");
    await message(ada, "just between the two of us").locator(".edited").waitFor();
  });

  it("applies a change whose message is older than the first page once scroll-back brings the message", async () => {
    const node = await historyNode();
    const room = freshRoom("late");
    const w = await writer(node.url, room);
    await sendAll(
      w,
      Array.from({ length: 120 }, (_, i) => ({ action: "message", room, message: `line ${i + 1}` })),
    );
    // Changes to the first messages are stored among the newest, far from what they change.
    await sendAll(w, [
      { action: "edit", room, mid: 2, message: "line 2, edited" },
      { action: "delete", room, mid: 3 },
      { action: "react", room, mid: 4, emoji: "🎉" },
      { action: "react", room, mid: 5, emoji: "🎉" },
      { action: "react", room, mid: 5, emoji: "🎉", remove: true },
    ]);
    const page = await openChat(env.browser, node.url);
    pages.push(page);
    await enterRoom(page, room);
    await roomMessages(page, "line 120").waitFor();
    // A page counts messages; the five changes come with the older page that holds what they change.
    expect(await page.locator("#messages .msg").count()).toBe(100);
    await scrollBack(page, async () => (await roomMessages(page, "line 1").count()) > 0);
    await message(page, "line 2, edited").locator(".edited").waitFor();
    expect(await roomMessages(page, "line 2").count()).toBe(0);
    expect(await page.locator('#messages .msg[data-mid="3"] .text').textContent()).toBe("message deleted");
    expect(await message(page, "line 4").locator(".reaction").textContent()).toBe("🎉 1");
    expect(await message(page, "line 5").locator(".reaction").count()).toBe(0);
  });

  it("shows runs, a mention, an edit and reactions, as in docs/screenshot-conversation.png and -phone.png", async () => {
    const viewport = { width: 1000, height: 650 };
    const ada = await userIn(0, "Ada Lovelace", "general", { viewport });
    const grace = await userIn(1, "Grace Hopper", "general", { viewport });
    await enterRoom(ada, "ops");
    await enterRoom(grace, "ops");
    await showRoom(ada, "general");
    await showRoom(grace, "general");
    const said: [Page, string][] = [
      [grace, "Morning! How did the Redis fail-over drill go?"],
      [grace, "I missed it: release meeting."],
      [ada, "@Grace Hopper like clockwork, both nodes were back within a second."],
      [ada, "Nobody lost a message. Figures: https://example.com/drill"],
      [grace, "That's the best news all week."],
    ];
    for (const [page, text] of said) {
      await say(page, text);
      await roomMessages(grace, text).waitFor();
    }
    const react = async (page: Page, text: string, name: string) => {
      await message(page, text).locator('[data-act="pick"]').click();
      await page.locator(".picker").getByRole("button", { name }).click();
    };
    const clockwork = "@Grace Hopper like clockwork, both nodes were back within a second.";
    await react(grace, clockwork, "React with party");
    await react(ada, clockwork, "React with party");
    await react(grace, "Nobody lost a message. Figures: https://example.com/drill", "React with heart");
    await message(ada, "Nobody lost a message. Figures: https://example.com/drill")
      .locator('[data-act="edit"]')
      .click();
    await ada.locator("#text").fill("Nobody lost a message.\nFigures: https://example.com/drill-report");
    await ada.locator("#text").press("Enter");
    await message(grace, clockwork).locator(".reaction").getByText("🎉 2").waitFor();
    await grace.locator("#messages .edited").waitFor();
    await grace.locator("#messages .reaction").getByText("❤️ 1").waitFor();
    // Meanwhile in #ops, a question for Grace.
    await showRoom(ada, "ops");
    await say(ada, "@Grace Hopper can you look at the dashboard when you have a minute?");
    await grace.locator('#rooms li[data-room="ops"] .mentions-count').waitFor();
    await grace.locator("#text").pressSequentially("Thanks @Ad");
    await grace.locator("#mention-list [role=option]").waitFor();

    // No message is under the pointer (its controls would show). The clock times are hidden so that a run
    // gives the same picture each time: the file changes with the page.
    await grace.mouse.move(0, 0);
    const write = process.env.WRITE_SCREENSHOT === "1";
    const style = "#messages .time { visibility: hidden; }";
    const desktop = await grace.screenshot({
      path: write ? path.join(DOCS, "screenshot-conversation.png") : undefined,
      style,
    });
    expect(desktop.length).toBeGreaterThan(0);
    // What the picture shows: the run, the mention, the edit and the reactions, the mention waiting in #ops.
    for (const [, text] of said.slice(0, 3)) expect(await drawn(roomMessages(grace, text)), text).toBe(true);
    expect(await drawn(message(grace, clockwork).locator(".reaction").getByText("🎉 2"))).toBe(true);
    expect(await drawn(grace.locator("#messages .edited"))).toBe(true);
    expect(await drawn(grace.locator("#messages .reaction").getByText("❤️ 1"))).toBe(true);
    expect(await drawn(grace.locator("#messages .msg.mention"))).toBe(true);
    expect(await drawn(grace.locator('#rooms li[data-room="ops"] .mentions-count'))).toBe(true);
    expect(await drawn(grace.locator("#mention-list [role=option]").first())).toBe(true);

    // The same person on a phone: another tab of her browser, narrow.
    const phone = await grace.context().newPage();
    await phone.setViewportSize({ width: 390, height: 760 });
    await phone.goto(grace.url());
    await phone.locator('body[data-state="online"]').waitFor();
    await phone.locator("#panels-toggle").click();
    await phone.locator('#rooms li[data-room="general"] .room-name').click();
    await currentRoom(phone, "general").waitFor({ state: "attached" });
    await phone.locator("#messages .reaction").getByText("❤️ 1").waitFor();
    const small = await phone.screenshot({ path: write ? path.join(DOCS, "screenshot-phone.png") : undefined, style });
    expect(small.length).toBeGreaterThan(0);
    const best = message(phone, "That's the best news all week.");
    expect(await drawn(phone.locator("#messages .reaction").getByText("❤️ 1"))).toBe(true);
    expect(await drawn(best)).toBe(true);
    expect(await drawn(phone.locator("#text"))).toBe(true);
    // In a room the bar above it keeps to two rows: the search and the connection's status are there,
    // the name form waits in the list of places. It had taken 170 of the 760 pixels, in four rows.
    const bar = await phone.locator(".topbar").boundingBox();
    expect(bar?.height).toBeLessThanOrEqual(110);
    expect(await drawn(phone.locator("#search-input"))).toBe(true);
    expect(await phone.locator("#status").textContent()).toMatch(/^Online/);
    expect(await drawn(phone.locator("#status"))).toBe(true);
    expect(await phone.locator("#nick").isVisible()).toBe(false);
    await phone.locator("#panels-toggle").click();
    expect(await drawn(phone.locator("#nick"))).toBe(true);
    expect(await phone.locator("#nick").inputValue()).toBe("Grace Hopper");
    await phone.locator('#rooms li[data-room="general"] .room-name').click();
    await expect.poll(() => phone.locator("body.panels-open").count()).toBe(0);
    // Nothing hovers on a phone: a "⋯" on each message opens its controls.
    expect(await best.locator('[data-act="edit"]').isVisible()).toBe(false);
    await best.locator('[data-act="more"]').click();
    await best.locator('[data-act="edit"]').click();
    await phone.locator("#edit-bar").waitFor();
    expect(await phone.locator("#text").inputValue()).toBe("That's the best news all week.");
  });
});
