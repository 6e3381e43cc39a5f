import type { HistoryPage, HistoryQuery } from "../bus/broker.js";
import type { OutFrame } from "../transport/out-frame.js";
import { historyMessages } from "./frames.js";

/**
 * Encoded pages kept at most, and the characters they hold (a page keeps its
 * JSON and its SockJS-quoted form, the second made as the first requester's
 * frame is put together: both are counted); the least recently used go first.
 */
const MAX_PAGES = 256;
const MAX_BYTES = 8 * 1024 * 1024;

/** What a cached page holds, in characters: its JSON, and the quoted form every history frame is made of. */
const held = (page: OutFrame) => page.text.length + page.quoted.length;

/**
 * Encoded history pages, shared by everyone who asks for the same page while
 * the room's history is unchanged: after a node restart a whole room rejoins
 * with the same `since`, and a page is encoded once, not once per member.
 */
export class HistoryPages {
  private readonly pages = new Map<string, OutFrame>();
  private bytes = 0;

  /** The page's messages from `from` up to `to` as the `messages` array of a `history` frame. */
  messagesOf(room: string, query: HistoryQuery, page: HistoryPage, from = 0, to = page.messages.length): OutFrame {
    // The epoch and the newest mid pin what the room held when the page was read.
    const key = [room, page.epoch, page.top, query.since, query.before, query.limit, page.messages.length, from, to];
    return this.cached(key.join("\n"), () => page.messages.slice(from, to));
  }

  private cached(key: string, messages: () => HistoryPage["messages"]): OutFrame {
    const cached = this.pages.get(key);
    if (cached) {
      this.pages.delete(key);
      this.pages.set(key, cached);
      return cached;
    }
    const encoded = historyMessages(messages().map((m) => m.json));
    this.pages.set(key, encoded);
    this.bytes += held(encoded);
    for (const [oldKey, old] of this.pages) {
      if (this.bytes <= MAX_BYTES && this.pages.size <= MAX_PAGES) break;
      this.pages.delete(oldKey);
      this.bytes -= held(old);
    }
    return encoded;
  }
}
