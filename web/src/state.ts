import { Changes } from "./changes";
import { type HistoryFrame, isChange, type StoredEntry } from "./protocol";

/**
 * A room or a conversation with one other person: both are numbered,
 * stored and recovered alike, so the page keeps them alike.
 */
export interface Place {
  /** Room names never hold '@', so a conversation's key cannot clash with a room's. */
  readonly key: string;
  readonly kind: "room" | "dm";
  /** The room's name, or the other person's user id. */
  readonly target: string;
  /** The room's name, or the other person's name. */
  title: string;
  /** The lifetime of the history that the mids below belong to. */
  epoch: string | undefined;
  /** Newest mid shown; anything at or below it is a duplicate. 0 before any. */
  lastMid: number;
  /** Oldest mid shown since the last gap: where paging backwards carries on. 0 before any. */
  oldestMid: number;
  /** The server still stores messages older than `oldestMid`. */
  more: boolean;
  loadingOlder: boolean;
  /** The newest mid the place has, as far as this page has heard. */
  top: number;
  /** The newest mid this user has read, on any tab; kept by the server per user. */
  read: number;
  /** Where the "new messages" line goes: the read mark when the reader last came to the place. */
  readWhenOpened: number;
  /** Everyone in a room, on every node, even where `users` lists only a page of them. */
  count: number;
  /** Who is in the room: user id → name. */
  readonly users: Map<string, string>;
  /** Edits, deletions and reactions of this epoch's messages. */
  changes: Changes;
  /** Mids of this epoch's messages by others that mention this user. */
  mentions: Set<number>;
}

export const roomKey = (room: string): string => room;

/** Where a request about `place` points: a room, or the conversation with its other member. */
export function where(place: Place): { room: string } | { with: string } {
  return place.kind === "room" ? { room: place.target } : { with: place.target };
}
export const dmKey = (uid: string): string => `@${uid}`;

export function newPlace(kind: Place["kind"], target: string, title: string): Place {
  return {
    key: kind === "room" ? roomKey(target) : dmKey(target),
    kind,
    target,
    title,
    epoch: undefined,
    lastMid: 0,
    oldestMid: 0,
    more: false,
    loadingOlder: false,
    top: 0,
    read: 0,
    readWhenOpened: 0,
    count: 0,
    users: new Map(),
    changes: new Changes(),
    mentions: new Set(),
  };
}

/**
 * Messages after the user's read mark; one's own count as read. Edits,
 * deletions and reactions are numbered among the messages but are not
 * messages: those this page knows of are left out (those in a part of the
 * history it never loaded cannot be, and count).
 */
export function unread(place: Place): number {
  return Math.max(0, place.top - place.read - place.changes.countBetween(place.read, place.top));
}

/** Unread messages that mention this user (and are still there to be read). */
export function unreadMentions(place: Place): number {
  let n = 0;
  for (const mid of place.mentions) if (mid > place.read && !place.changes.of(mid)?.deleted) n++;
  return n;
}

/** After a reconnect the replayed history and live frames can overlap; each mid is taken once. */
export function acceptLive(place: Place, message: StoredEntry, own: boolean): boolean {
  if (message.mid <= place.lastMid) return false;
  place.lastMid = message.mid;
  if (place.oldestMid === 0) place.oldestMid = message.mid;
  place.top = Math.max(place.top, message.mid);
  if (own) place.read = Math.max(place.read, message.mid);
  return true;
}

/**
 * Takes in the `history` that answers a `join`; `gap` means messages may have
 * been lost before these, `epochChanged` that the mids shown so far number another history.
 */
export function applyJoinHistory(
  place: Place,
  history: HistoryFrame,
): { gap: boolean; epochChanged: boolean; entries: StoredEntry[] } {
  const epochChanged = place.epoch !== undefined && place.epoch !== history.epoch;
  const gap = history.recovered === false || epochChanged;
  // A new epoch numbers its messages from 1 again: what was known by the old numbers means nothing now.
  if (epochChanged) {
    place.lastMid = 0;
    place.changes = new Changes();
    place.mentions = new Set();
  }
  if (gap) place.oldestMid = 0;
  // A full recovery only adds newer messages, so what is stored before them is unchanged.
  if (history.recovered !== true) place.more = history.more;
  place.epoch = history.epoch;
  place.top = history.top;
  place.read = history.read;
  const entries = history.messages.filter((m) => m.mid > place.lastMid);
  const first = entries[0];
  const last = entries.at(-1);
  if (first && place.oldestMid === 0) place.oldestMid = first.mid;
  if (last) place.lastMid = last.mid;
  return { gap, epochChanged, entries };
}

/** Takes in a page of older entries; returns those to put above the ones shown. */
export function applyOlderHistory(place: Place, history: HistoryFrame): StoredEntry[] {
  place.loadingOlder = false;
  // The history was lost while the page was on its way; its mids mean nothing now.
  if (history.epoch !== place.epoch) return [];
  place.more = history.more;
  // A page brings its messages' current changes, made (and numbered) however much later.
  const entries = history.messages.filter((m) => (isChange(m) ? m.target : m.mid) < place.oldestMid);
  const first = entries.find((m) => !isChange(m));
  if (first) place.oldestMid = first.mid;
  return entries;
}

/**
 * How far the reader has read the place on screen: everything when the view
 * is at the newest message, else only up to the last message that has been
 * in view (`lastSeen`). Null when that moves the mark nowhere.
 */
export function readUpTo(place: Place, atBottom: boolean, lastSeen: number): number | null {
  const upTo = atBottom ? place.lastMid : Math.min(place.lastMid, lastSeen);
  return place.epoch === undefined || upTo <= place.read ? null : upTo;
}

/** A `read` from any tab of this user: marks only move forward, and only within the epoch they name. */
export function applyRead(place: Place, mid: number, epoch: string): boolean {
  if (epoch !== place.epoch || mid <= place.read) return false;
  place.read = mid;
  return true;
}

export class ClientState {
  /** The person, the same on every tab and after a reload. */
  myUid = "";
  /** The user's name as the server has it: what mentions of them say. */
  myName = "";
  readonly places = new Map<string, Place>();
  /** Places asked for and not confirmed yet; only these may be added by a `history`. */
  readonly joining = new Set<string>();
  /** The place on screen: the session's (session.ts decides it), mirrored here for the rules that read it. */
  current: string | null = null;

  isOwn(uid: string): boolean {
    return uid === this.myUid;
  }

  currentPlace(): Place | undefined {
    return this.current === null ? undefined : this.places.get(this.current);
  }

  rooms(): Place[] {
    return [...this.places.values()].filter((p) => p.kind === "room");
  }

  conversations(): Place[] {
    return [...this.places.values()].filter((p) => p.kind === "dm");
  }
}
