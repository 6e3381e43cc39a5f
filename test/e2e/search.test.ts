import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BROWSER_TEST_MS, browserPerFile, currentRoom, drawn, enterRoom, roomMessages } from "../support/browser.js";
import { connectUser, joinRoom, type User } from "../support/chat.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { type RedisProcess, startRedis } from "../support/redis-servers.js";
import { freshRoom } from "./two-users.js";

/** Put into the page by evaluation: the chat's Content-Security-Policy rightly refuses inline scripts. */
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const browser = browserPerFile();
/** On the embedded engine, which keeps every message and searches them (DATA_DIR in a temp dir). */
let chat: NodeProcess;
/** With Redis and no database: nothing to search, which the box must say. */
let redis: RedisProcess;
let bare: NodeProcess;
const writers: User[] = [];
// A room's history is written faster than a person could: no write budget.
const env = { RATE_LIMIT: "0", WRITE_BYTES_PER_USER: "0", WRITE_BYTES_PER_IP: "0" };

beforeAll(async () => {
  redis = await startRedis();
  [chat, bare] = await Promise.all([startNode(env, "reserved"), startNode({ REDIS_URL: redis.url }, "reserved")]);
});
afterAll(async () => {
  for (const w of writers) w.client.close();
  await Promise.all([chat?.stop(), bare?.stop()]);
  await redis?.stop();
});

async function writer(room: string): Promise<User> {
  const u = await connectUser(chat.url, { query: "lobby=0" });
  writers.push(u);
  await joinRoom(u, room);
  return u;
}

/** Writes `texts` into `room` in one go; in a fresh room the n-th text is message n. */
async function write(u: User, room: string, texts: string[]): Promise<void> {
  const refs = texts.map((_, i) => `w-${i}-${Math.random()}`);
  await u.client.sendFrame(
    texts.map((message, i) => JSON.stringify({ action: "message", room, message, ref: refs[i] })),
  );
  await u.client.action("ack", (f) => f.ref === refs.at(-1));
}

async function openAt(base: string, hash: string): Promise<Page> {
  const page = await browser.open(`${base}/${hash}`);
  await page.locator('body[data-state="online"]').waitFor();
  return page;
}

const results = (page: Page) => page.getByRole("listbox", { name: "Search results" });
const status = (page: Page) => page.locator("#search-status");

async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    type AxeViolation = { id: string; impact: string; nodes: { target: string[] }[] };
    const { violations } = await axe.run();
    return violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

describe("the search box and the jump to a message, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("finds words across the user's rooms, grouped and marked, and Enter opens a hit in its context with the live feed going on", async () => {
    const [ops, dev] = [freshRoom("ops"), freshRoom("dev")];
    const w = await writer(ops);
    const texts = Array.from({ length: 160 }, (_, i) => `filler line ${i + 1}`);
    texts[4] = "the deployment of <b>Crème</b> is green";
    await write(w, ops, texts);
    await joinRoom(w, dev);
    await write(w, dev, ["deployment done in dev"]);

    const page = await openAt(chat.url, `#/room/${dev}`);
    await currentRoom(page, dev).waitFor();
    await enterRoom(page, ops);
    await page.keyboard.press("Control+k");
    const box = page.getByRole("combobox", { name: "Search messages" });
    expect(await box.evaluate((input) => input === document.activeElement)).toBe(true);
    await box.fill("DEPLOYMENT creme");
    await box.press("Enter");
    await status(page).getByText("1 result").waitFor();
    await box.fill("deployment");
    // The hits for the text before leave as soon as it changes.
    await status(page).getByText("Press Enter to search").waitFor();
    expect(await results(page).getByRole("option").count()).toBe(0);
    await box.press("Enter");
    await status(page).getByText("2 results").waitFor();
    // Grouped by room, the newest hit's room first; the words matched marked, the rest shown as text.
    const groups = results(page).getByRole("group");
    expect(await groups.count()).toBe(2);
    expect(await groups.nth(0).getByRole("option").textContent()).toContain("deployment done in dev");
    expect(await groups.nth(0).textContent()).toContain(`#${dev}`);
    expect(await groups.nth(1).textContent()).toContain(`#${ops}`);
    const opsHit = groups.nth(1).getByRole("option");
    expect(await opsHit.locator(".hit-text").textContent()).toBe("the deployment of <b>Crème</b> is green");
    expect(await opsHit.locator("mark").allTextContents()).toEqual(["deployment"]);
    expect(await opsHit.locator("b").count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);

    // The arrows walk the hits; Enter opens the one they are on.
    await box.press("ArrowDown");
    await box.press("ArrowDown");
    expect(await opsHit.getAttribute("aria-selected")).toBe("true");
    await box.press("Enter");
    await currentRoom(page, ops).waitFor();
    const target = page.locator("#messages .msg.target");
    await target.locator(".text").getByText("the deployment of <b>Crème</b> is green", { exact: true }).waitFor();
    expect(await drawn(target)).toBe(true);
    // Message 5 is older than the newest page the join showed: the page holds its context, not the live end.
    expect(await roomMessages(page, "filler line 160").count()).toBe(0);
    await page.getByRole("button", { name: "Back to the newest messages" }).waitFor();

    await write(w, ops, ["said after the jump"]);
    const messages = page.locator("#messages");
    // Each scroll to the end brings the next page down, until the page is the room's own log again.
    for (let i = 0; i < 20 && (await roomMessages(page, "said after the jump").count()) === 0; i++) {
      const last = await messages.locator(".msg .text").last().textContent();
      await messages.evaluate((el) => {
        el.scrollTop = el.scrollHeight;
        el.dispatchEvent(new Event("scroll"));
      });
      await page.waitForFunction(
        (was) => [...document.querySelectorAll("#messages .msg .text")].at(-1)?.textContent !== was,
        last,
      );
    }
    await roomMessages(page, "said after the jump").waitFor();
    // Down from the jump, every message is there once, in order, up to the live end.
    const shown = await messages.locator(".msg .text").allTextContents();
    const from = shown.indexOf("the deployment of <b>Crème</b> is green");
    expect(shown.slice(from)).toEqual([...texts.slice(4), "said after the jump"]);
  });

  it("takes a hit out of the list when its message is deleted meanwhile, and shows an edit's new text", async () => {
    const room = freshRoom("gone");
    const w = await writer(room);
    await write(w, room, ["a secret to take back", "a secret typo"]);
    const page = await openAt(chat.url, `#/room/${room}`);
    await currentRoom(page, room).waitFor();
    const box = page.getByRole("combobox", { name: "Search messages" });
    await box.fill("secret");
    await box.press("Enter");
    await status(page).getByText("2 results").waitFor();
    const change = async (body: Record<string, unknown>) => {
      const ref = `c-${Math.random()}`;
      await w.client.send({ ...body, room, ref });
      await w.client.action("ack", (f) => f.ref === ref);
    };
    await change({ action: "delete", mid: 1 });
    await status(page).getByText("1 result", { exact: true }).waitFor();
    expect(await results(page).textContent()).not.toContain("take back");
    await change({ action: "edit", mid: 2, message: "a fixed typo" });
    const hit = results(page).getByRole("option");
    await hit.locator(".hit-text").getByText("a fixed typo", { exact: true }).waitFor();
    expect(await hit.locator("mark").count()).toBe(0);
  });

  it("says No results, opens with /, and Escape gives the keyboard back to the composer", async () => {
    const page = await openAt(chat.url, "");
    await currentRoom(page, "lobby").waitFor();
    await page.locator("#messages").click();
    await page.keyboard.press("/");
    const box = page.getByRole("combobox", { name: "Search messages" });
    expect(await box.evaluate((input) => input === document.activeElement)).toBe(true);
    // Typed, not yet asked: the panel says how to ask, and lists nothing.
    await box.pressSequentially("zyzzyva-nowhere");
    await status(page).getByText("Press Enter to search").waitFor();
    expect(await page.locator("#search-results [role=option]").count()).toBe(0);
    await box.press("Enter");
    await status(page).getByText("No results").waitFor();
    expect(await box.getAttribute("aria-expanded")).toBe("true");
    await box.press("Escape");
    expect(await page.locator("#search-panel").isHidden()).toBe(true);
    expect(await page.locator("#text").evaluate((text) => text === document.activeElement)).toBe(true);
    // In the composer, `/` is a character like any other.
    await page.keyboard.type("a/b");
    expect(await page.locator("#text").inputValue()).toBe("a/b");
  });

  it("shows its results whole on the screen, on a phone, a laptop and a wide screen", async () => {
    const room = freshRoom("onscreen");
    await write(await writer(room), room, ["the gazebo is painted", "a second gazebo, smaller"]);
    for (const width of [390, 1000, 1600]) {
      const page = await browser.open(`${chat.url}/#/room/${room}`, (p) => p.setViewportSize({ width, height: 700 }));
      // Search looks in the user's rooms: the address's room is one once its join is answered.
      await currentRoom(page, room).waitFor({ state: "attached" });
      await roomMessages(page, "a second gazebo, smaller").waitFor({ state: "attached" });
      const box = page.getByRole("combobox", { name: "Search messages" });
      await box.fill("gazebo");
      await box.press("Enter");
      await expect.poll(() => results(page).getByRole("option").count(), { timeout: 10_000 }).toBe(2);
      const panel = await page.locator("#search-panel").boundingBox();
      expect(panel?.x, `${width} px`).toBeGreaterThanOrEqual(0);
      expect((panel?.x ?? 0) + (panel?.width ?? 0), `${width} px`).toBeLessThanOrEqual(width);
      expect(await drawn(results(page).getByRole("option").first()), `${width} px`).toBe(true);
    }
  });

  it("pages on to older hits, and opens a hit in a conversation", async () => {
    const page = await openAt(chat.url, "");
    await currentRoom(page, "lobby").waitFor();
    const me = await page.locator("#users li.user.me").getAttribute("data-id");
    // Someone who writes to this user directly, and a room of many hits.
    const pen = await connectUser(chat.url, { query: "proto=2&lobby=0" });
    writers.push(pen);
    await pen.client.send({ action: "join", with: me, ref: "open" });
    await pen.client.action("history", (f) => f.ref === "open");
    await pen.client.send({ action: "dm", to: me, message: "the secret handshake is ready", ref: "dm-1" });
    await pen.client.action("ack", (f) => f.ref === "dm-1");
    const room = freshRoom("many");
    const w = await writer(room);
    await write(
      w,
      room,
      Array.from({ length: 25 }, (_, i) => `handshake number ${i + 1}`),
    );
    await enterRoom(page, room);

    const box = page.getByRole("combobox", { name: "Search messages" });
    await box.fill("handshake");
    await box.press("Enter");
    await status(page).getByText("20+ results").waitFor();
    await page.getByRole("button", { name: "More results" }).click();
    await status(page).getByText("26 results").waitFor();
    expect(await page.getByRole("button", { name: "More results" }).isHidden()).toBe(true);
    const conversation = results(page).getByRole("group", { name: `Conversation with ${pen.name}` });
    await conversation.getByRole("option").click();
    await page.locator("#conversations li.active").waitFor();
    await page.locator("#messages .msg.target .text").getByText("the secret handshake is ready").waitFor();
    expect(new URL(page.url()).hash).toBe(`#/dm/${encodeURIComponent(pen.uid)}`);
    // A reload comes back to the conversation, not to the room that was open before it.
    await page.reload();
    await page.locator('body[data-state="online"]').waitFor();
    await page.locator(`#conversations li.active[data-room="@${pen.uid}"]`).waitFor();
    await page.locator("#messages .msg .text").getByText("the secret handshake is ready").waitFor();
  });

  it("says so when search is unavailable", async () => {
    const page = await openAt(bare.url, "");
    await currentRoom(page, "lobby").waitFor();
    await page.keyboard.press("Control+k");
    const box = page.getByRole("combobox", { name: "Search messages" });
    await box.fill("anything");
    await box.press("Enter");
    await status(page)
      .getByText(/^Search is unavailable right now: /)
      .waitFor();
    expect(await results(page).getByRole("option").count()).toBe(0);
  });
});
