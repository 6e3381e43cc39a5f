import { randomBytes } from "node:crypto";
import type { Browser } from "playwright-core";
import { expect } from "vitest";
import {
  closePage,
  conversationEntry,
  directMessages,
  enterRoom,
  openChat,
  openConversation,
  roomMessages,
  say,
  senderOf,
  setNick,
  showConversation,
  shownTransport,
  showRoom,
  systemLines,
  type Transport,
  userEntry,
} from "../support/browser.js";

/**
 * A closed page's pending request ends abruptly and the server notices at
 * once; over the HTTP transports, a page caught between two requests is only
 * noticed once SockJS's disconnect delay (5 s) has passed without the next.
 * Then the user's grace period (PRESENCE_GRACE) runs before anyone is told.
 */
const LEAVE_MS = 15_000;

/** A room no other test uses, so each case sees only its own two users. */
export function freshRoom(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/**
 * A name no other test uses: a user whose page closed stays in its rooms for
 * the grace period, and a name is only free once nobody there has it.
 */
export function freshName(name: string): string {
  return `${name} ${randomBytes(2).toString("hex")}`;
}

/**
 * Ada on `adaBase` and Grace on `graceBase`, both forced onto `transport`, do
 * what two users of the chat do: meet in a room, talk both ways, exchange a
 * private message, and see the other one go.
 */
export async function twoUsersChat(
  browser: Browser,
  adaBase: string,
  graceBase: string,
  transport: Transport,
): Promise<void> {
  const [ada, grace] = await Promise.all([
    openChat(browser, adaBase, { transport }),
    openChat(browser, graceBase, { transport }),
  ]);
  try {
    expect(await shownTransport(ada)).toBe(transport);
    expect(await shownTransport(grace)).toBe(transport);

    const room = freshRoom(transport);
    const [adaName, graceName] = [freshName("Ada"), freshName("Grace")];
    await Promise.all([setNick(ada, adaName), setNick(grace, graceName)]);
    await Promise.all([enterRoom(ada, room), enterRoom(grace, room)]);
    await userEntry(ada, graceName).waitFor();
    await userEntry(grace, adaName).waitFor();

    const hello = `Hello Grace, this is ${transport}`;
    await say(ada, hello);
    expect(await senderOf(roomMessages(grace, hello))).toBe(adaName);
    expect(await senderOf(roomMessages(ada, hello))).toBe(`${adaName} (you)`);

    const reply = `Hi Ada, loud and clear over ${transport}`;
    await say(grace, reply);
    expect(await senderOf(roomMessages(ada, reply))).toBe(graceName);
    expect(await senderOf(roomMessages(grace, reply))).toBe(`${graceName} (you)`);

    // A direct message opens a conversation; Grace, reading the room, sees it come in as unread.
    const secret = `Just between us (${transport})`;
    await openConversation(ada, graceName);
    await say(ada, secret);
    expect(await senderOf(directMessages(ada, secret))).toBe(`${adaName} (you)`);
    await conversationEntry(grace, adaName).locator(".badge").getByText("1", { exact: true }).waitFor();
    expect(await roomMessages(grace, secret).count()).toBe(0);
    await showConversation(grace, adaName);
    expect(await senderOf(directMessages(grace, secret))).toBe(adaName);
    await conversationEntry(grace, adaName).locator(".badge").waitFor({ state: "detached" });

    await showRoom(ada, room);
    await closePage(grace);
    await userEntry(ada, graceName).waitFor({ state: "detached", timeout: LEAVE_MS });
    await systemLines(ada, `${graceName} (guest) left`).waitFor();
  } finally {
    await Promise.all([closePage(ada), closePage(grace)]);
  }
}
