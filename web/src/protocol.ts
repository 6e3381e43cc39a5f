// The wire protocol's types come from its one definition, src/protocol: a
// frame this client reads wrongly, or a request it writes wrongly, does not
// compile. Types only: the schemas (and zod) stay out of the bundle.
import type { FrameOf, ServerFrame, StoredMessage } from "../../src/protocol/frames";
import type { ClientRequest } from "../../src/protocol/requests";

export type { ClientRequest, ServerFrame };
/** A room message as stored and replayed: numbered. */
export type ChatMessage = StoredMessage;
/** A room message as it arrives live: numbered, or local-only while the server's other nodes are out of reach. */
export type LiveMessage = FrameOf<"message">;
export type PrivateMessage = FrameOf<"pm"> | FrameOf<"pm_sent">;
export type HistoryFrame = FrameOf<"history">;

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
