import { RequestError } from "../../protocol/errors.js";
import type { Action, Ref, RequestOf } from "../../protocol/requests.js";
import type { Role } from "../../protocol/rooms.js";
import { checkRoom, DEFAULT_ROOM } from "../../protocol/rules.js";
import type { OutFrame } from "../../transport/out-frame.js";
import type { TokenLease } from "../admission.js";
import type { ChatContext } from "../context.js";
import type { Recipient } from "../local-rooms.js";

/** What a request handler may use of the connection that sent the request (a Session). */
export interface Caller extends Recipient {
  name: string;
  /** The name was drawn by the server, not chosen: another is drawn where someone in a room has it. */
  nameDrawn: boolean;
  /** `user_info` has gone out: a name drawn again before it needs no telling. */
  readonly greeted: boolean;
  /**
   * Whether its user is kept between connections (a token, or a `proto=2`
   * guest): only those have rooms that follow them, conversations and read state.
   */
  readonly persistent: boolean;
  /**
   * Whether the store keeps its user: always for a token's; a guest from
   * the first thing worth keeping it for (keepUser), until then it lives as
   * long as its connections.
   */
  kept: boolean;
  readonly clientAddress: string;
  /** A server admin: may do anything in every room. */
  readonly admin: boolean;
  /** Roles the connection's token grants, by room id (the `rooms` claim). */
  readonly roomRoles: ReadonlyMap<string, Role> | undefined;
  /** The rooms the connection is in. */
  readonly rooms: Set<string>;
  /** The conversations the connection has open: the other user → the conversation's room. */
  readonly conversations: Map<string, string>;
  readonly ctx: ChatContext;
  /** Set while a token admitted the connection. */
  readonly lease: TokenLease | undefined;
  /** Sends a page of history, charged against the connection's rate budget by its size. */
  sendHistory(frame: OutFrame): void;
  /** Charges the time a request kept the node or its database busy against the rate budget (a search). */
  chargeWork(ms: number): void;
  /**
   * Lets the next request start while `op` is still out; its failure is
   * refused with `ref`. Returns what the handler must wait for when too many
   * are out.
   */
  pipeline(op: Promise<void>, ref: Ref): Promise<void> | undefined;
}

/**
 * Handles one action. Throwing (or rejecting) refuses the request with one
 * `error`: a RequestError with its code, anything else as `internal`.
 */
export type Handler<A extends Action> = (caller: Caller, request: RequestOf<A>) => Promise<void> | undefined;

/** The room a request names (the lobby when it names none), which the caller must be in. */
export function memberRoom(caller: Caller, raw: string | undefined): string {
  const room = checkRoom(raw ?? DEFAULT_ROOM, caller.ctx.limits);
  if (!caller.rooms.has(room)) throw new RequestError("not_in_room", `you are not in room '${room}'`);
  return room;
}

/** The conversation with `other`, which the caller must have open (`join {with}`). */
export function openConversation(caller: Caller, other: string): string {
  const conversation = caller.conversations.get(other);
  if (conversation === undefined) {
    throw new RequestError("not_in_room", "open the conversation first: join with 'with'");
  }
  return conversation;
}

/** Conversations and read state are kept for users who can come back as themselves. */
export function requirePersistent(caller: Caller): void {
  if (!caller.persistent) {
    throw new RequestError(
      "forbidden",
      "direct messages and read state need a lasting identity: connect with ?proto=2 (or a token)",
    );
  }
}
