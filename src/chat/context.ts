import type { Logger } from "pino";
import type { Limits } from "../protocol/rules.js";
import type { UserStore } from "../users/user-store.js";
import type { Allowances } from "./allowances.js";
import type { Identity } from "./auth.js";
import type { GuestIdentities } from "./guests.js";
import type { HistoryPages } from "./history-pages.js";
import type { Hub } from "./hub.js";
import type { Meter } from "./meter.js";

/** A signed-in account's connection. */
export interface SignedInIdentity {
  uid: string;
  name: string;
  /** The sign-in session: the connection ends with it. */
  session: string;
  expires: number;
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

/** A search of the archive (docs/protocol.md#search), over places already cut down to what the person may read. */
export interface MessageSearch {
  search(ask: { q: string; places: string[]; before: string | undefined; limit: number }): Promise<
    | { refused: "too_long" | "empty" | "bad_request"; why: string }
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
  /** Search, on a node with an archive (embedded, or Redis with DATABASE_URL); undefined without one. */
  search: MessageSearch | undefined;
}
