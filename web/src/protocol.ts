// The wire protocol's types come from its one definition, src/protocol: a
// frame this client reads wrongly, or a request it writes wrongly, does not
// compile. Types only: the schemas (and zod) stay out of the bundle.
import type {
  FrameOf,
  ModlogEntry,
  SearchHit,
  ServerFrame,
  StoredChange,
  StoredDm,
  StoredEntry,
  StoredMessage,
} from "../../src/protocol/frames";
import type { ClientRequest } from "../../src/protocol/requests";

export type { ClientRequest, FrameOf, ModlogEntry, SearchHit, ServerFrame, StoredChange, StoredEntry };
/** A room message or a direct message as history keeps it: numbered. */
export type StoredText = StoredMessage | StoredDm;
/** A room message or a direct message as it arrives live: numbered, or local-only while the server's other nodes are out of reach. */
export type LiveEntry = FrameOf<"message"> | FrameOf<"dm">;
export type HistoryFrame = FrameOf<"history">;
export type UserInfo = FrameOf<"user_info">;
/** One of the fixed reactions the server accepts. */
export type Emoji = FrameOf<"react">["emoji"];

export function isChange(entry: StoredEntry): entry is StoredChange {
  return entry.action === "edit" || entry.action === "delete" || entry.action === "react";
}

/**
 * The server is trusted to send the documented shapes, so this only checks the
 * envelope; actions this client does not know fall through its switch unused.
 */
export function parseFrame(data: string): ServerFrame | null {
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && typeof (value as { action?: unknown }).action === "string") {
      return value as ServerFrame;
    }
  } catch {
    // not JSON: nothing a client could act on
  }
  return null;
}

/**
 * Part of every `ref` that stores something: the server stores a resend of
 * the same user's `ref` once, whichever connection it comes on, so a reload
 * or another tab, counting from 1 again, must not reuse a ref of this page.
 */
export const PAGE_REF = Math.random().toString(36).slice(2, 10);
