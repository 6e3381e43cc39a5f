/**
 * What travels between nodes, in one place.
 *
 * A room channel carries envelopes, one per publication, as text:
 *
 *     <mid> TAB <epoch> TAB <exclude> TAB <kind> LF <json>
 *
 * - `mid` and `epoch`: a stored message's number and the lifetime of the
 *   room's history it belongs to; both empty for what is not stored
 *   (presence, typing). Stored messages are wrapped by the Redis script that
 *   stores them (src/redis/lua/store-and-publish.lua), so the script and
 *   encodeEnvelope below must agree.
 * - `exclude`: a connection id that must not be sent this (the sender of its
 *   own `typing`); empty for none.
 * - `kind`: empty for a frame every member is sent as it is; `presence` for
 *   a coalesced `presence` frame, which a node expands into the original
 *   protocol's `user_join` and `user_left` for the connections that want those;
 *   `rules` for a room's changed rules (its `room` frame, or `room_rules` for its moderation): each node reads
 *   them again from the store, and only `proto=2` connections are sent it.
 * - `json`: the frame exactly as every local member is sent it, so a node
 *   never parses or re-encodes it.
 *
 * A node channel carries NodeMessage as JSON.
 */

/** Why a moderator took a user out of a room (the `left` frame's `reason`). */
export type LeftReason = "kicked" | "banned";

export type EnvelopeKind = "presence" | "rules";

export interface Envelope {
  mid?: number;
  epoch?: string;
  exclude?: string;
  kind?: EnvelopeKind;
  json: string;
}

/** What one node asks of another, about connections it holds. */
export type NodeMessage =
  /** A frame for one connection (the original protocol's `pm`), from user `from`, whom its user may have blocked. */
  | { kind: "conn"; to: string; json: string; from?: string }
  /** A frame for every `proto=2` connection of a user, except those in `unlessIn` (a room or conversation). */
  | { kind: "user"; uid: string; json: string; unlessIn?: string }
  /** The user left a room on some connection, or a moderator took them out: their connections here leave it too. */
  | { kind: "leave"; uid: string; room: string; reason?: LeftReason }
  /** The user blocked or unblocked someone: their connections here take the new list. */
  | { kind: "blocks"; uid: string; users: { uid: string; name: string }[] }
  /** The user has a new name: their connections here take it. */
  | { kind: "renamed"; uid: string; name: string }
  /** The user's connections here end (of one sign-in session, when given): signed out, or disabled. */
  | { kind: "end"; uid: string; session?: string; code: number; reason: string }
  /** A frame about the user (their new profile) for every room their connections here are in, and for them. */
  | { kind: "around"; uid: string; json: string };

export function encodeEnvelope(envelope: Envelope): string {
  const { mid, epoch, exclude, kind } = envelope;
  return `${mid ?? ""}\t${epoch ?? ""}\t${exclude ?? ""}\t${kind ?? ""}\n${envelope.json}`;
}

export function parseEnvelope(payload: string): Envelope {
  const lf = payload.indexOf("\n");
  const [mid = "", epoch = "", exclude = "", kind = ""] = payload.slice(0, lf).split("\t");
  return {
    mid: mid === "" ? undefined : Number(mid),
    epoch: epoch === "" ? undefined : epoch,
    exclude: exclude === "" ? undefined : exclude,
    kind: kind === "presence" || kind === "rules" ? kind : undefined,
    json: payload.slice(lf + 1),
  };
}

export function encodeNodeMessage(message: NodeMessage): string {
  return JSON.stringify(message);
}

/** Throws on a payload that is not a NodeMessage. */
export function parseNodeMessage(payload: string): NodeMessage {
  const value = JSON.parse(payload) as Record<string, unknown>;
  const str = (key: string) => {
    const v = value[key];
    if (typeof v !== "string") throw new Error(`node message without '${key}'`);
    return v;
  };
  switch (value.kind) {
    case "conn":
      return {
        kind: "conn",
        to: str("to"),
        json: str("json"),
        from: typeof value.from === "string" ? value.from : undefined,
      };
    case "user":
      return {
        kind: "user",
        uid: str("uid"),
        json: str("json"),
        unlessIn: typeof value.unlessIn === "string" ? value.unlessIn : undefined,
      };
    case "leave":
      return {
        kind: "leave",
        uid: str("uid"),
        room: str("room"),
        reason: value.reason === "kicked" || value.reason === "banned" ? value.reason : undefined,
      };
    case "blocks": {
      const users = Array.isArray(value.users) ? (value.users as { uid: unknown; name: unknown }[]) : [];
      return {
        kind: "blocks",
        uid: str("uid"),
        users: users.flatMap((u) =>
          typeof u.uid === "string" && typeof u.name === "string" ? [{ uid: u.uid, name: u.name }] : [],
        ),
      };
    }
    case "renamed":
      return { kind: "renamed", uid: str("uid"), name: str("name") };
    case "end":
      if (typeof value.code !== "number") throw new Error("node message without 'code'");
      return {
        kind: "end",
        uid: str("uid"),
        session: typeof value.session === "string" ? value.session : undefined,
        code: value.code,
        reason: str("reason"),
      };
    case "around":
      return { kind: "around", uid: str("uid"), json: str("json") };
    default:
      throw new Error("not a node message");
  }
}
