import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";

/** Debian's Chromium: the suite drives the browser installed on the machine and never downloads one. */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
];
/** How long a page may take to show what a step waits for; the machine may be busy with other work. */
const STEP_MS = 15_000;
/** For a test that drives a few pages through a dozen such steps. */
export const BROWSER_TEST_MS = 60_000;

/** Every SockJS transport sockjs-client offers in Chromium (the xdr-* ones are for old IE only). */
export const TRANSPORTS = [
  "websocket",
  "xhr-streaming",
  "xhr-polling",
  "eventsource",
  "iframe-eventsource",
  "iframe-htmlfile",
  "iframe-xhr-polling",
  "jsonp-polling",
] as const;
export type Transport = (typeof TRANSPORTS)[number];

export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * For a test in which a page of a public site reaches the chat: Chromium
 * keeps public pages away from loopback addresses (Local Network Access),
 * and the chat under test listens on one.
 */
export const AS_IF_PUBLIC = [
  "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights",
];

export interface PageOptions {
  viewport?: { width: number; height: number };
}

/** A blank page in a fresh context: its own storage, so nothing (a saved nickname) leaks between users. */
export async function newPage(browser: Browser, options: PageOptions = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: options.viewport });
  context.setDefaultTimeout(STEP_MS);
  return context.newPage();
}

export interface ChatOptions extends PageOptions {
  /** Pins one SockJS transport through the page's `?transport=`. */
  transport?: Transport;
}

/** Opens the web client and waits until it is online and has put the user in the lobby. */
export async function openChat(browser: Browser, base: string, options: ChatOptions = {}): Promise<Page> {
  const url = options.transport ? `${base}/?transport=${options.transport}` : `${base}/`;
  const page = await newPage(browser, options);
  await page.goto(url);
  await page.locator('body[data-state="online"]').waitFor();
  await currentRoom(page, "lobby").waitFor();
  return page;
}

/** Opens the web client as a user named `name` and puts them in `room`. */
export async function joinAs(
  browser: Browser,
  base: string,
  name: string,
  room: string,
  options: PageOptions = {},
): Promise<Page> {
  const page = await openChat(browser, base, options);
  await setNick(page, name);
  await enterRoom(page, room);
  return page;
}

export function closePage(page: Page): Promise<void> {
  return page.context().close();
}

/** The transport the page says it is online over; absent while it is not online. */
export function shownTransport(page: Page): Promise<string | null> {
  return page.locator("body").getAttribute("data-transport");
}

export function shownState(page: Page): Promise<string | null> {
  return page.locator("body").getAttribute("data-state");
}

/** The room list entry of `room`, once it is the room on screen. */
export function currentRoom(page: Page, room: string): Locator {
  return page.locator(`#rooms li.active[data-room="${room}"]`);
}

/** Sets the nickname, and waits for the server's confirmation in the room on screen. */
export async function setNick(page: Page, name: string): Promise<void> {
  await page.locator("#nick").fill(name);
  await page.locator("#nick-form button[type=submit]").click();
  await systemLines(page, `You are now known as ${name}`).waitFor();
}

/** Joins a room through the join form and waits until it is on screen. */
export async function enterRoom(page: Page, room: string): Promise<void> {
  await page.locator("#room-input").fill(room);
  await page.locator("#join-form button[type=submit]").click();
  await currentRoom(page, room).waitFor();
}

/** Puts a room the user is in back on screen. */
export async function showRoom(page: Page, room: string): Promise<void> {
  await page.locator(`#rooms li[data-room="${room}"] .room-name`).click();
  await currentRoom(page, room).waitFor();
}

/** Writes in the composer and sends: to the room on screen, or privately once a user was picked. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator("#text").fill(text);
  await page.locator("#send").click();
}

/** The user's entry in the online list of the room on screen. */
export function userEntry(page: Page, name: string): Locator {
  return page.locator("#users li.user").filter({ has: page.locator(".user-name").getByText(name, { exact: true }) });
}

/** A conversation in the side list, by the other person's name. */
export function conversationEntry(page: Page, name: string): Locator {
  return page
    .locator("#conversations li")
    .filter({ has: page.locator(".place-title").getByText(name, { exact: true }) });
}

/** Opens the conversation with a user of the online list, and waits until it is on screen. */
export async function openConversation(page: Page, name: string): Promise<void> {
  await userEntry(page, name).locator("button.user-name").click();
  await conversationEntry(page, name).and(page.locator("li.active")).waitFor();
}

/** Opens a conversation (or room) already in the side list: `name` as the list shows it. */
export async function showConversation(page: Page, name: string): Promise<void> {
  await conversationEntry(page, name).locator(".room-name").click();
  await conversationEntry(page, name).and(page.locator("li.active")).waitFor();
}

/** Room messages (not direct ones) whose text is exactly `text`, in the room on screen. */
export function roomMessages(page: Page, text: string): Locator {
  return page
    .locator("#messages .msg:not(.dm):not(.pm)")
    .filter({ has: page.locator(".text").getByText(text, { exact: true }) });
}

/** Direct messages whose text is exactly `text`, in the conversation on screen. */
export function directMessages(page: Page, text: string): Locator {
  return page.locator("#messages .msg.dm").filter({ has: page.locator(".text").getByText(text, { exact: true }) });
}

export function systemLines(page: Page, text: string): Locator {
  return page.locator("#messages .sys").getByText(text, { exact: true });
}

/** Waits for the first of `messages` and returns who the page says sent it, marked "(you)" where the page marks it as one's own. */
export async function senderOf(messages: Locator): Promise<string | null> {
  const first = messages.first();
  await first.waitFor();
  const name = await first.locator(".from").textContent();
  const own = (await first.locator(".self-badge").count()) > 0 && (await first.getAttribute("class"))?.includes("own");
  return own ? `${name} (you)` : name;
}

/**
 * Whether the element is what the page draws at (the top of) its middle,
 * inside the window: in view, not scrolled out of its box, not covered.
 * What a screenshot of the window shows of it.
 */
export function drawn(locator: Locator): Promise<boolean> {
  return locator.evaluate((node) => {
    const r = node.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + Math.min(r.height / 2, 8);
    if (r.width === 0 || x < 0 || y < 0 || x > window.innerWidth || y > window.innerHeight) return false;
    const hit = document.elementFromPoint(x, y);
    return hit !== null && (hit === node || node.contains(hit));
  });
}

/**
 * One Chromium for a test file, and pages that each test opens and that are
 * closed after it: call once at the top of the file.
 */
export function browserPerFile(): { open(url: string, before?: (page: Page) => Promise<void>): Promise<Page> } {
  let browser: Browser | undefined;
  const pages: Page[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await Promise.all(pages.splice(0).map(closePage));
  });
  return {
    /** A new page at `url`; `before` readies it first (a phone's viewport, a route of its traffic). */
    async open(url, before) {
      if (!browser) throw new Error("the browser starts before the file's tests");
      const page = await newPage(browser);
      pages.push(page);
      await before?.(page);
      await page.goto(url);
      return page;
    },
  };
}
