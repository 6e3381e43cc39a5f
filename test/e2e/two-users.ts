import { randomBytes } from "node:crypto";
import type { Browser } from "playwright-core";
import { expect } from "vitest";
import {
  closePage,
  enterRoom,
  openChat,
  privateMessages,
  roomMessages,
  say,
  senderOf,
  setNick,
  shownTransport,
  startPm,
  systemLines,
  type Transport,
  userEntry,
} from "../support/browser.js";

/**
 * A closed page's pending request ends abruptly and the server notices at
 * once; over the HTTP transports, a page caught between two requests is only
 * noticed once SockJS's disconnect delay (5 s) has passed without the next.
 */
const LEAVE_MS = 15_000;

/** A room no other test uses, so each case sees only its own two users. */
export function freshRoom(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
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
    await Promise.all([setNick(ada, "Ada"), setNick(grace, "Grace")]);
    await Promise.all([enterRoom(ada, room), enterRoom(grace, room)]);
    await userEntry(ada, "Grace").waitFor();
    await userEntry(grace, "Ada").waitFor();

    const hello = `Hello Grace, this is ${transport}`;
    await say(ada, hello);
    expect(await senderOf(roomMessages(grace, hello))).toBe("Ada");
    expect(await senderOf(roomMessages(ada, hello))).toBe("Ada (you)");

    const reply = `Hi Ada, loud and clear over ${transport}`;
    await say(grace, reply);
    expect(await senderOf(roomMessages(ada, reply))).toBe("Grace");
    expect(await senderOf(roomMessages(grace, reply))).toBe("Grace (you)");

    const secret = `Just between us (${transport})`;
    await startPm(ada, "Grace");
    await say(ada, secret);
    expect(await senderOf(privateMessages(grace, secret))).toBe("Ada");
    expect(await senderOf(privateMessages(ada, secret))).toBe("Ada (you)");
    expect(await roomMessages(grace, secret).count()).toBe(0);

    await closePage(grace);
    await userEntry(ada, "Grace").waitFor({ state: "detached", timeout: LEAVE_MS });
    await systemLines(ada, "Grace left").waitFor();
  } finally {
    await Promise.all([closePage(ada), closePage(grace)]);
  }
}
