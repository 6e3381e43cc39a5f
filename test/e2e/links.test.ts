import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSER_TEST_MS,
  browserPerFile,
  conversationEntry,
  currentRoom,
  drawn,
  enterRoom,
  roomMessages,
} from "../support/browser.js";
import { connectUser, joinRoom, type User } from "../support/chat.js";
import { type NodeProcess, startNode } from "../support/processes.js";
import { freshRoom } from "./two-users.js";

const browser = browserPerFile();
let chat: NodeProcess;
const writers: User[] = [];
// A room's history is written faster than a person could: no write budget.
const env = { RATE_LIMIT: "0", WRITE_BYTES_PER_USER: "0", WRITE_BYTES_PER_IP: "0" };

beforeAll(async () => {
  chat = await startNode(env, "reserved");
});
afterAll(async () => {
  for (const w of writers) w.client.close();
  await chat?.stop();
});

/** A client that is not a browser, in `room`, to write its history quickly. */
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

/** Opens the web client at `hash` and waits until it is online. */
async function openAt(hash: string): Promise<Page> {
  const page = await browser.open(`${chat.url}/${hash}`);
  await online(page);
  return page;
}

async function online(page: Page): Promise<void> {
  await page.locator('body[data-state="online"]').waitFor();
}

/** The message the page marks as the one a link or a search hit led to. */
const target = (page: Page) => page.locator("#messages .msg.target .text");

describe("links to rooms, messages and conversations, in Chromium", { timeout: BROWSER_TEST_MS }, () => {
  it("opens the room a link names, and follows the address when it changes", async () => {
    const [room, other] = [freshRoom("linked"), freshRoom("next")];
    const w = await writer(room);
    await write(w, room, ["hello from the link"]);
    const page = await openAt(`#/room/${room}`);
    await currentRoom(page, room).waitFor();
    await roomMessages(page, "hello from the link").waitFor();
    // The address changed while the page is open: it goes there.
    await page.evaluate((to) => {
      location.hash = to;
    }, `#/room/${other}`);
    await currentRoom(page, other).waitFor();
    // And switching by hand writes the address, so that it can be copied as it is.
    await page.locator(`#rooms li[data-room="${room}"] .room-name`).click();
    await currentRoom(page, room).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/room/${room}`);
  });

  it("on a phone, leaves open the list of places the user opened while the address's room was on its way", async () => {
    const room = freshRoom("awaited");
    await write(await writer(room), room, ["worth the wait"]);
    let release = () => {};
    let holding = () => {};
    const held = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const page = await browser.open(`${chat.url}/#/room/${room}`, async (p) => {
      await p.setViewportSize({ width: 390, height: 760 });
      // From the first frame about the room (its join's answer) on, the server's frames wait until released.
      await p.routeWebSocket(/\/websocket/, (ws) => {
        const server = ws.connectToServer();
        let waiting: (string | Buffer)[] | null = null;
        let released = false;
        release = () => {
          released = true;
          for (const m of waiting ?? []) ws.send(m);
          waiting = null;
        };
        server.onMessage((m) => {
          if (waiting === null && !released && String(m).includes(room)) {
            waiting = [];
            holding();
          }
          if (waiting === null) ws.send(m);
          else waiting.push(m);
        });
      });
    });
    await online(page);
    // The room is on its way (its answer held), not yet come nor still to be asked for, when the user opens the list.
    await held;
    await page.locator("#panels-toggle").click();
    await page.locator("body.panels-open").waitFor({ state: "attached" });
    release();
    await currentRoom(page, room).waitFor({ state: "attached" });
    await roomMessages(page, "worth the wait").waitFor({ state: "attached" });
    // The room came in under the list, which the user still has open; picking a place closes it.
    expect(await page.locator("body.panels-open").count()).toBe(1);
    await page.locator('#rooms li[data-room="lobby"] .room-name').click();
    await currentRoom(page, "lobby").waitFor({ state: "attached" });
    expect(await page.locator("body.panels-open").count()).toBe(0);
  });

  it("comes back after a reload to the room this tab showed, not the one another tab shows", async () => {
    const [mine, theirs] = [freshRoom("mine"), freshRoom("theirs")];
    const first = await openAt("");
    await currentRoom(first, "lobby").waitFor();
    await enterRoom(first, mine);
    // A second tab of the same person, in another room: it is the last place the browser saw.
    const second = await first.context().newPage();
    await second.goto(`${chat.url}/`);
    await online(second);
    await enterRoom(second, theirs);
    await first.reload();
    await online(first);
    await currentRoom(first, mine).waitFor();
    await second.reload();
    await online(second);
    await currentRoom(second, theirs).waitFor();
  });

  it("copies a message's link, which opens in a new tab at that message, highlighted, with the live feed going on", async () => {
    const room = freshRoom("copied");
    const w = await writer(room);
    await write(
      w,
      room,
      Array.from({ length: 30 }, (_, i) => `note ${i + 1}`),
    );
    const page = await openAt(`#/room/${room}`);
    await roomMessages(page, "note 30").waitFor();
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    const note = roomMessages(page, "note 3");
    await note.hover();
    await note.getByRole("button", { name: "Copy link to message" }).click();
    await page.locator(".notice").getByText("Link to the message copied").waitFor();
    const link = await page.evaluate(() => navigator.clipboard.readText());
    expect(link).toBe(`${chat.url}/#/room/${room}/3`);

    const tab = await page.context().newPage();
    await tab.goto(link);
    await online(tab);
    await currentRoom(tab, room).waitFor();
    await target(tab).getByText("note 3", { exact: true }).waitFor();
    expect(await drawn(tab.locator("#messages .msg.target"))).toBe(true);
    await write(w, room, ["after the jump"]);
    await roomMessages(tab, "after the jump").waitFor();
  });

  it("opens the conversation a link names, with someone the user never wrote to", async () => {
    const pen = await connectUser(chat.url, { query: "proto=2&lobby=0" });
    writers.push(pen);
    const page = await openAt(`#/dm/${encodeURIComponent(pen.uid)}`);
    await page.locator(`#conversations li.active[data-room="@${pen.uid}"]`).waitFor();
    // Named by the server, though no message names them yet: in the list and the header.
    await conversationEntry(page, pen.name).waitFor();
    expect(await page.locator("#room-title").textContent()).toBe(`${pen.name} (guest)`);
    // The badge stands apart from the name, not run into it ("Penguest").
    const [name, badge] = await Promise.all(
      ["[data-profile]", ".guest-badge"].map((s) => page.locator(`#room-title ${s}`).boundingBox()),
    );
    expect((badge?.x ?? 0) - ((name?.x ?? 0) + (name?.width ?? 0))).toBeGreaterThanOrEqual(4);
    // Beside the messages, the conversation's two people, not an empty "Online".
    const people = page.getByRole("complementary", { name: "In this conversation" });
    expect(await people.locator(".user .user-name").allTextContents()).toEqual([
      pen.name,
      await page.locator("#nick").inputValue(),
    ]);
    expect(await people.getByRole("button", { name: pen.name }).count()).toBe(0);
    await page.locator("#text").fill("hello from your link");
    await page.locator("#send").click();
    // Pen is told of a new conversation, and finds the message in it.
    const told = await pen.client.action("conversation");
    const ref = "open-it";
    await pen.client.send({ action: "join", with: (told.with as { uid: string }).uid, ref });
    const opened = await pen.client.action("history", (f) => f.ref === ref);
    expect((opened.messages as { message?: string }[]).map((m) => m.message)).toEqual(["hello from your link"]);
  });

  it("pages up and down from a link to an old message, holding a few pages, to the live end", async () => {
    const room = freshRoom("long");
    const w = await writer(room);
    const total = 1000;
    for (let from = 1; from <= total; from += 250) {
      await write(
        w,
        room,
        Array.from({ length: 250 }, (_, i) => `m ${from + i}`),
      );
    }
    const page = await openAt(`#/room/${room}/400`);
    await target(page).getByText("m 400", { exact: true }).waitFor();
    const box = page.locator("#messages");
    const texts = () => box.locator(".msg .text").allTextContents();
    const scroll = (to: "top" | "bottom") =>
      box.evaluate((el, where) => {
        el.scrollTop = where === "top" ? 0 : el.scrollHeight;
        el.dispatchEvent(new Event("scroll"));
      }, to);
    let most = 0;
    // Up from the message, a page at a time, to the room's first.
    while ((await page.locator("#messages .history-start").count()) === 0) {
      const was = await box.locator(".msg .text").first().textContent();
      await scroll("top");
      await page.waitForFunction(
        (text) =>
          document.querySelector("#messages .msg .text")?.textContent !== text ||
          document.querySelector("#messages .history-start") !== null,
        was,
      );
      most = Math.max(most, await box.locator(".msg").count());
    }
    expect((await texts())[0]).toBe("m 1");
    expect(await page.locator("#messages .history-start").textContent()).toBe("Start of the conversation");
    await write(w, room, ["m live"]);
    // Down to the live end, past what arrived meanwhile.
    while ((await roomMessages(page, "m live").count()) === 0) {
      const was = await box.locator(".msg .text").last().textContent();
      await scroll("bottom");
      await page.waitForFunction(
        (text) => [...document.querySelectorAll("#messages .msg .text")].at(-1)?.textContent !== text,
        was,
      );
      most = Math.max(most, await box.locator(".msg").count());
    }
    const shown = await texts();
    // One run of consecutive messages, ending with the newest: none skipped, none twice.
    expect(shown.at(-1)).toBe("m live");
    const numbers = shown.slice(0, -1).map((t) => Number(t.slice(2)));
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => total - numbers.length + 1 + i));
    expect(most).toBeLessThanOrEqual(300);
  });

  it("says plainly that a link leads where the user may not go, and never reads the address as markup", async () => {
    const long = "r".repeat(40);
    const page = await openAt(`#/room/${long}`);
    const note = page.locator("#messages .note");
    await note.getByText(`This link cannot be opened: you cannot read #${long}.`).waitFor();
    expect(await note.locator(".note-reason").textContent()).toMatch(/room must be/);
    expect(await page.locator("#rooms li.active").count()).toBe(0);

    await page.evaluate(() => {
      location.hash = "#/dm/nobody-at-all";
    });
    await note.getByText("This link cannot be opened: you cannot read this conversation.").waitFor();
    expect(await page.locator("#conversations li").count()).toBe(0);

    // Ids of the shape the server hands out, that nobody has: an account's and a guest's.
    for (const uid of [`a-${"Q".repeat(22)}`, `g-${"Q".repeat(22)}`]) {
      const nobody = await openAt(`#/dm/${uid}`);
      const said = nobody.locator("#messages .note");
      await said.getByText("This link cannot be opened: you cannot read this conversation.").waitFor();
      expect(await said.locator(".note-reason").textContent()).toBe("there is no such user");
      expect(await nobody.locator("#conversations li").count()).toBe(0);
      expect(await nobody.locator("#messages .msg").count()).toBe(0);
    }

    const hostile = await openAt("#/room/%3Cimg%20src=x%20onerror=alert(1)%3E");
    await currentRoom(hostile, "lobby").waitFor();
    expect(await hostile.locator("img").count()).toBe(0);
  });

  it("says that a link to a private room, or to a message in it, cannot be opened by someone not in it, and shows none of it", async () => {
    const owner = await connectUser(chat.url, { query: "proto=2&lobby=0" });
    writers.push(owner);
    const ref = `create-${Math.random()}`;
    await owner.client.send({ action: "room_create", name: "Back Office", visibility: "private", ref });
    const made = await owner.client.next((f) => f.ref === ref && (f.action === "room" || f.action === "error"));
    expect(made).toMatchObject({ action: "room", visibility: "private" });
    const room = String(made.room);
    await joinRoom(owner, room);
    await write(owner, room, ["the launch is on friday"]);

    for (const hash of [`#/room/${room}`, `#/room/${room}/1`]) {
      const page = await openAt(hash);
      const note = page.locator("#messages .note");
      // Told as plainly as for a room that does not exist, which is all a private room is to an outsider.
      await note.getByText(`This link cannot be opened: you cannot read #${room}.`).waitFor();
      expect(await note.locator(".note-reason").textContent(), hash).toBe(`there is no room '${room}'`);
      expect(await page.locator("#rooms li.active").count(), hash).toBe(0);
      expect(await page.locator(`#rooms li[data-room="${room}"]`).count(), hash).toBe(0);
      expect(await page.locator("#messages .msg").count(), hash).toBe(0);
      expect(await page.getByText("the launch is on friday").count(), hash).toBe(0);
      // The rest of the chat goes on: the lobby is a click away.
      await page.locator('#rooms li[data-room="lobby"] .room-name').click();
      await currentRoom(page, "lobby").waitFor();
    }
  });
});
