import { randomBytes } from "node:crypto";

/** What a client learns from the server's frames. */
export interface ClientEvents {
  open(): void;
  joined(): void;
  /** The text of a room chat message. */
  chat(text: string): void;
}

/** One wire protocol, client side: the URL path, how to read frames and how to write requests. */
export interface Codec {
  /** A fresh session path, query included; clients join their rooms themselves. */
  path(): string;
  /** Reads one websocket message; returns what the protocol requires sending back, if anything. */
  receive(data: string, events: ClientEvents): string | undefined;
  join(room: string): string;
  message(room: string, text: string): string;
}

export type WireKind = "sockjs" | "engineio";

const MESSAGE = '{"action":"message"';
const USERS = '{"action":"users"';

/**
 * SockJS's websocket transport as sockjs-client speaks it: `o` opens, `h` is a
 * heartbeat, `a[...]` carries a JSON array of message strings, `c[code,reason]`
 * closes; the client sends a JSON array of strings.
 */
const sockjs: Codec = {
  path: () => {
    const server = String(Math.floor(Math.random() * 1000)).padStart(3, "0");
    return `/sock/${server}/${randomBytes(6).toString("hex")}/websocket?lobby=0`;
  },
  receive(data, events) {
    const kind = data[0];
    if (kind === "o") events.open();
    else if (kind === "a") {
      for (const text of JSON.parse(data.slice(1)) as string[]) {
        // Only chat messages and join answers matter; the rest is never parsed.
        if (text.startsWith(MESSAGE)) events.chat((JSON.parse(text) as { message: string }).message);
        else if (text.startsWith(USERS)) events.joined();
      }
    }
    return undefined;
  },
  join: (room) => JSON.stringify([JSON.stringify({ action: "join", room })]),
  message: (room, text) => JSON.stringify([JSON.stringify({ action: "message", room, message: text })]),
};

/**
 * Socket.IO v5 over Engine.IO v4, websocket transport only: `0{...}` is the
 * Engine.IO handshake, `40` connects the main namespace, `42[event,data]` is
 * an event, `43<id>[...]` an acknowledgement, `2` a ping the client answers with `3`.
 */
const engineio: Codec = {
  path: () => "/socket.io/?EIO=4&transport=websocket&lobby=0",
  receive(data, events) {
    if (data.startsWith("42")) {
      const [event, payload] = JSON.parse(data.slice(2)) as [string, { message: string }];
      if (event === "message") events.chat(payload.message);
    } else if (data.startsWith("43")) events.joined();
    else if (data.startsWith("40")) events.open();
    else if (data === "2") return "3";
    else if (data[0] === "0") return "40";
    return undefined;
  },
  // Every join asks for an acknowledgement, id 1: a client has only one join in flight.
  join: (room) => `421${JSON.stringify(["join", room])}`,
  message: (room, text) => `42${JSON.stringify(["message", { room, message: text }])}`,
};

export const codecs: Record<WireKind, Codec> = { sockjs, engineio };
