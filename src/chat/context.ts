import type { Logger } from "pino";
import type { RoomTextLimits } from "../protocol/rooms.js";
import type { Limits } from "../protocol/rules.js";
import type { UserStore } from "../users/user-store.js";
import type { Allowances } from "./allowances.js";
import type { Identity } from "./auth.js";
import type { GuestIdentities } from "./guests.js";
import type { HistoryPages } from "./history-pages.js";
import type { Hub } from "./hub.js";
import type { Meter } from "./meter.js";
import type { Moderation } from "./moderation.js";
import type { RoomRules } from "./room-rules.js";
import type { SearchTurns } from "./search-turns.js";

/** A signed-in account's connection. */
export interface SignedInIdentity {
  uid: string;
  name: string;
  /** The sign-in session: the connection ends with it. */
  session: string;
  expires: number;
  /** A server admin: holds every room. */
  admin?: boolean;
}

/** How much one connection may ask of the node. */
export interface Policy {
  rateLimit: number;
  rateBurst: number;
  floodCloseAfter: number;
  maxRooms: number;
  /** Rooms a kept user may be in over all their connections (MAX_ROOMS_PER_USER). */
  maxRoomsPerUser: number;
  maxConversations: number;
}

/** What rooms may be made, and how far they may be opened (docs/security.md). */
export interface RoomPolicy extends RoomTextLimits {
  /** Rooms one user may have created and not deleted (MAX_ROOMS_CREATED). */
  maxCreated: number;
  /** Invitations and links into one room not yet spent or expired (MAX_INVITATIONS). */
  maxInvitations: number;
}

/** Someone in the people directory. */
export interface Listed {
  uid: string;
  name: string;
}

/** A search of the archive (docs/protocol.md#search), over places already cut down to what the person may read. */
export interface MessageSearch {
  search(ask: { q: string; places: string[]; before: string | undefined; limit: number }): Promise<
    | { refused: "too_long" | "empty" | "bad_request"; why: string; ms?: number }
    | {
        hits: {
          place: string;
          mid: number;
          ts: number;
          text: string;
          edited: number | undefined;
          json: string;
          matches: [number, number][];
        }[];
        next: string | undefined;
        /** How long the archive worked on it (ms). */
        ms: number;
      }
  >;
}

/** What every session of a node shares. */
export interface ChatContext {
  hub: Hub;
  users: UserStore;
  log: Logger;
  limits: Limits;
  /** How many messages a plain `join` replays. */
  historySize: number;
  /** How many messages a `join` with `since` replays at most (RECOVERY_MAX). */
  recoveryMax: number;
  policy: Policy;
  /** What each user and each address may add to what is stored. */
  allowances: Allowances;
  meter: Meter;
  /** Set when connections must prove who they are (AUTH_SECRET). */
  authenticate: ((token: string) => Promise<Identity>) | undefined;
  /** Guest identities, when guests may connect (GUESTS). */
  guests: GuestIdentities | undefined;
  /** Who a sign-in ticket (first frame) is for, while its session lasts; undefined for a bad one or without accounts. */
  redeemTicket: ((ticket: string) => Promise<SignedInIdentity | undefined>) | undefined;
  /** Whether a name reads as an account's: a guest may not take it. False when the accounts cannot be asked. */
  accountName: ((name: string) => Promise<boolean>) | undefined;
  /** How long a connection waits for its first frame when it said it would send who it is there (`?auth=first`). */
  firstFrameMs: number;
  /** How long a user whose connections all closed stays in their rooms (PRESENCE_GRACE). */
  graceMs: number;
  /** Encoded history pages, shared by the node's sessions. */
  pages: HistoryPages;
  /** Bans, mutes, slow mode, pins, reports and blocks, with this node's cache of each room's. */
  moderation: Moderation;
  /** Rooms' rules: the store, and this node's copy of what its sessions need. */
  rooms: RoomRules;
  roomPolicy: RoomPolicy;
  /** A page of accounts whose name holds `q`, by name; undefined without accounts. */
  people:
    | ((q: string, after: string | undefined, limit: number) => Promise<{ items: Listed[]; next?: string }>)
    | undefined;
  /** Search, on a node with an archive (embedded, or Redis with DATABASE_URL); undefined without one. */
  search: MessageSearch | undefined;
  /** One search at a time for each user and each address. */
  searchTurns: SearchTurns;
}
