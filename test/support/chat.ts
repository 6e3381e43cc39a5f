import { type ClientOptions, type Frame, SockClient } from "./sockjs-client.js";

/** A connected chat user: the client plus its own id and name from `user_info`. */
export interface User {
  client: SockClient;
  /** The connection. */
  id: string;
  /** The person: the same on each of their connections. */
  uid: string;
  name: string;
  /** The guest token a `proto=2` guest was given, to come back as the same user. */
  guest: string | undefined;
  /** What `user_info` said. */
  info: Frame;
}

export async function connectUser(base: string, options: ClientOptions = {}): Promise<User> {
  const client = await SockClient.connect(base, options);
  const info = await client.action("user_info");
  const guest = typeof info.guest === "string" ? info.guest : undefined;
  return { client, id: String(info.id), uid: String(info.uid), name: String(info.name), guest, info };
}

/**
 * Connects and waits until it is in the lobby: the automatic join sends no
 * reply (the original page knows none), so an explicit `join`, queued behind
 * it, says when it is done.
 */
export async function joinedUser(base: string, options: ClientOptions = {}): Promise<User> {
  const user = await connectUser(base, options);
  await joinRoom(user, "lobby");
  return user;
}

export async function joinRoom(user: User, room: string, extra: Record<string, unknown> = {}): Promise<Frame> {
  const ref = `join-${room}-${Math.random()}`;
  await user.client.send({ action: "join", room, ref, ...extra });
  return user.client.action("users", (f) => f.ref === ref);
}

/** Sends a request and resolves with the first frame that answers it (by its ref). */
export async function ask(user: User, body: Record<string, unknown>): Promise<Frame> {
  const ref = `r-${Math.random()}`;
  await user.client.send({ ...body, ref });
  return user.client.next((f) => f.ref === ref);
}

/** Sends a message with a ref and resolves with its ack (or throws on its error). */
export async function say(user: User, message: string, room?: string): Promise<number> {
  const ref = `say-${Math.random()}`;
  await user.client.send({ action: "message", message, room, ref });
  const reply = await user.client.next((f) => f.ref === ref && (f.action === "ack" || f.action === "error"));
  if (reply.action === "error") throw new Error(`message refused: ${JSON.stringify(reply)}`);
  return Number(reply.mid);
}

/** Sends a request about a room (a join, a history page) and resolves with its history frame. */
export async function historyOf(u: User, room: string, request: Record<string, unknown>): Promise<Frame> {
  const ref = `h-${Math.random()}`;
  await u.client.send({ ...request, room, ref });
  return u.client.action("history", (f) => f.ref === ref);
}

export function messagesIn(user: User, room: string): Frame[] {
  return user.client.all("message").filter((f) => f.room === room);
}
