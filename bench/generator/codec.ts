import { randomBytes } from "node:crypto";

/** The frames the presence figures count, one counter each per client; `other` is every other frame. */
export type FrameKind = "user_join" | "user_left" | "presence" | "other";
export type FrameCounts = Record<FrameKind, number>;

/** What a client learns from the server's frames. */
export interface ClientEvents {
  open(): void;
  joined(): void;
  /**
   * A room chat message received live: its text, its `ts` (when the publishing node took it up,
   * ms since the epoch), and its room and `mid` if the wire numbers messages.
   */
  chat(text: string, ts: number | undefined, room?: string, mid?: number): void;
  /** A join's `history` frame: the room's epoch, the `mid`s of its messages (oldest first), and its `recovered` flag if it answers a `since`. */
  history(room: string, epoch: string, top: number, mids: number[], recovered: boolean | undefined): void;
  /** The server acknowledged the message with this `ref`. */
  acked(ref: number): void;
  /** Every frame the server sends, by kind. */
  frame(kind: FrameKind): void;
  /** A `presence` frame said how many are in the room. */
  count(members: number): void;
  /** The server said who the client is; `guest` is the token that makes it the same user next time. */
  identified(guest: string | undefined): void;
  /** The server answered the codec's probe. */
  answered(): void;
  /** A join was refused because someone in the room has the client's (drawn) name. */
  nameTaken(): void;
}

/** One wire protocol, client side: the URL path, how to read frames and how to write requests. */
export interface Codec {
  /** A fresh session path with `query` (URL-encoded, may be empty); clients join their rooms themselves. */
  path(query: string): string;
  /** Reads one websocket message; returns what the protocol requires sending back, if anything. */
  receive(data: string, events: ClientEvents): string | undefined;
  /** A join; with `resume`, a rejoin that asks for exactly the messages after `since` in that `epoch`. */
  join(room: string, resume?: { since: number; epoch: string }): string;
  /** Takes a name, where the protocol has names. */
  nick?(name: string): string;
  /** A chat message; `ref`, as the web client gives one, asks for an acknowledgement where the server has them. */
  message(room: string, text: string, ref: number): string;
  /**
   * A request the server answers at once from memory, if the protocol has one: it waits in the
   * connection's queue behind the connection's own setup, so its answer says the setup is done.
   */
  readonly probe?: string;
}

export type WireKind = "sockjs" | "engineio";

const MESSAGE = '{"action":"message"';
const USERS = '{"action":"users"';
const USER_INFO = '{"action":"user_info"';
const ERROR = '{"action":"error"';
const ACK = '{"action":"ack"';
const HISTORY = '{"action":"history"';
const USER_JOIN = '{"action":"user_join"';
const USER_LEFT = '{"action":"user_left"';
const PRESENCE = '{"action":"presence"';

// The same, as they stand quoted inside an `a[...]` frame.
const QUOTED_FRAME = '"{\\"action\\":\\"';
const QUOTED_MESSAGE = '"{\\"action\\":\\"message\\"';
const QUOTED_ACK = '"{\\"action\\":\\"ack\\"';
const QUOTED_REF = '\\"ref\\":';
const QUOTED_TEXT = '\\"message\\":\\"';
const QUOTED_TS = '\\"ts\\":';
const QUOTED_ROOM = '\\"room\\":\\"';
const QUOTED_MID = '\\"mid\\":';

/** The number after `field` within [at, end) of `data`, if the field is there. */
function numberAfter(data: string, field: string, at: number, end: number): number | undefined {
  const found = data.indexOf(field, at);
  if (found === -1 || found >= end) return undefined;
  return Number.parseInt(data.slice(found + field.length, found + field.length + 16), 10);
}

interface Chat {
  text: string;
  ts: number | undefined;
  room: string | undefined;
  mid: number | undefined;
}

/**
 * A frame of chat messages and acknowledgements (of numbered refs) and
 * nothing else, the bulk of any load, read without parsing it: each
 * message's text (the bench's own, no quote or backslash in it), `ts`, room
 * and `mid`, and each ack's `ref`, are cut out where they stand. Parsing
 * every delivery twice (the frame, then each message) took half of a
 * generator thread at 400 msg/s, and the receipts waited for it; the
 * server sends a message's ack and its delivery in one frame when they
 * leave in the same turn. False, having told nothing, when the frame holds
 * anything else.
 */
function chatOnly(data: string, events: ClientEvents): boolean {
  /** A message's fields, or an ack's ref. */
  const found: (Chat | number)[] = [];
  for (let at = data.indexOf(QUOTED_FRAME); at !== -1; ) {
    const message = data.startsWith(QUOTED_MESSAGE, at);
    if (!message && !data.startsWith(QUOTED_ACK, at)) return false;
    const next = data.indexOf(QUOTED_FRAME, at + QUOTED_ACK.length);
    const end = next === -1 ? data.length : next;
    if (!message) {
      const ref = numberAfter(data, QUOTED_REF, at, end);
      // A ref the bench did not number (a string) is read by the parser.
      if (ref === undefined || Number.isNaN(ref)) return false;
      found.push(ref);
      at = next;
      continue;
    }
    const textAt = data.indexOf(QUOTED_TEXT, at);
    const from = textAt + QUOTED_TEXT.length;
    const to = data.indexOf("\\", from);
    // Not the bench's text (no such field, or a quote or backslash in it): the frame is parsed.
    if (textAt === -1 || to === -1 || to >= end || !data.startsWith('\\"', to)) return false;
    const roomAt = data.indexOf(QUOTED_ROOM, at);
    const roomFrom = roomAt + QUOTED_ROOM.length;
    const roomTo = roomAt === -1 || roomAt >= end ? -1 : data.indexOf("\\", roomFrom);
    found.push({
      text: data.slice(from, to),
      ts: numberAfter(data, QUOTED_TS, at, end),
      room: roomTo === -1 ? undefined : data.slice(roomFrom, roomTo),
      mid: numberAfter(data, QUOTED_MID, at, end),
    });
    at = next;
  }
  for (const item of found) {
    events.frame("other");
    if (typeof item === "number") events.acked(item);
    else events.chat(item.text, item.ts, item.room, item.mid);
  }
  return found.length > 0;
}

/**
 * SockJS's websocket transport as sockjs-client speaks it: `o` opens, `h` is a
 * heartbeat, `a[...]` carries a JSON array of message strings, `c[code,reason]`
 * closes; the client sends a JSON array of strings.
 */
const sockjs: Codec = {
  path: (query) => {
    const server = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
    return `/sock/${server}/${randomBytes(6).toString("hex")}/websocket${query ? `?${query}` : ""}`;
  },
  receive(data, events) {
    const kind = data[0];
    if (kind === "o") events.open();
    else if (kind === "a" && !chatOnly(data, events)) {
      for (const text of JSON.parse(data.slice(1)) as string[]) {
        // Chat messages first, the bulk of any load; beyond what is counted, only join answers,
        // the greeting and errors (the probe's answer) are read.
        if (text.startsWith(MESSAGE)) {
          events.frame("other");
          const m = JSON.parse(text) as { message: string; ts?: number; room: string; mid?: number };
          events.chat(m.message, m.ts, m.room, m.mid);
        } else if (text.startsWith(ACK)) {
          events.frame("other");
          events.acked((JSON.parse(text) as { ref: number }).ref);
        } else if (text.startsWith(USER_JOIN)) events.frame("user_join");
        else if (text.startsWith(USER_LEFT)) events.frame("user_left");
        else if (text.startsWith(PRESENCE)) {
          events.frame("presence");
          events.count((JSON.parse(text) as { count: number }).count);
        } else {
          events.frame("other");
          if (text.startsWith(USERS)) events.joined();
          else if (text.startsWith(HISTORY)) {
            const h = JSON.parse(text) as {
              room?: string;
              epoch: string;
              top: number;
              recovered?: boolean;
              messages: { action: string; mid: number }[];
            };
            const mids = h.messages.filter((m) => m.action === "message").map((m) => m.mid);
            if (h.room !== undefined) events.history(h.room, h.epoch, h.top, mids, h.recovered);
          } else if (text.startsWith(USER_INFO)) events.identified((JSON.parse(text) as { guest?: string }).guest);
          else if (text.startsWith(ERROR)) {
            events.answered();
            if ((JSON.parse(text) as { code?: string }).code === "name_taken") events.nameTaken();
          }
        }
      }
    }
    return undefined;
  },
  join: (room, resume) => JSON.stringify([JSON.stringify({ action: "join", room, ...resume })]),
  nick: (name) => JSON.stringify([JSON.stringify({ action: "nick", name })]),
  message: (room, text, ref) => JSON.stringify([JSON.stringify({ action: "message", room, message: text, ref })]),
  // A room nobody joins: refused with `not_in_room` (an `error`) without a look at Redis.
  probe: JSON.stringify([JSON.stringify({ action: "users", room: "bench-probe" })]),
};

/**
 * Socket.IO v5 over Engine.IO v4, websocket transport only: `0{...}` is the
 * Engine.IO handshake, `40` connects the main namespace, `42[event,data]` is
 * an event, `43<id>[...]` an acknowledgement, `2` a ping the client answers with `3`.
 */
const engineio: Codec = {
  path: (query) => `/socket.io/?EIO=4&transport=websocket${query ? `&${query}` : ""}`,
  receive(data, events) {
    if (data.startsWith("42")) {
      events.frame("other");
      const [event, payload] = JSON.parse(data.slice(2)) as [string, { message: string; ts?: number }];
      if (event === "message") events.chat(payload.message, payload.ts);
    } else if (data.startsWith("43")) events.joined();
    else if (data.startsWith("40")) events.open();
    else if (data === "2") return "3";
    else if (data[0] === "0") return "40";
    return undefined;
  },
  // Every join asks for an acknowledgement, id 1: a client has only one join in flight. Socket.IO has no `since`.
  join: (room) => `421${JSON.stringify(["join", room])}`,
  message: (room, text) => `42${JSON.stringify(["message", { room, message: text }])}`,
};

export const codecs: Record<WireKind, Codec> = { sockjs, engineio };
