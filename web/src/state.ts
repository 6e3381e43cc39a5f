import type { ChatMessage, HistoryFrame } from "./protocol";

export interface Room {
  readonly name: string;
  /** The lifetime of the room's history that `lastMid`/`oldestMid` belong to. */
  epoch: string | undefined;
  /** Newest mid shown; anything at or below it is a duplicate. 0 before any. */
  lastMid: number;
  /** Oldest mid shown since the last gap: where paging backwards carries on. 0 before any. */
  oldestMid: number;
  /** The server still stores messages older than `oldestMid`. */
  more: boolean;
  loadingOlder: boolean;
  unread: number;
  /** Who is in the room: id → name. */
  readonly users: Map<string, string>;
}

export function newRoom(name: string): Room {
  return {
    name,
    epoch: undefined,
    lastMid: 0,
    oldestMid: 0,
    more: false,
    loadingOlder: false,
    unread: 0,
    users: new Map(),
  };
}

/** After a reconnect the replayed history and live frames can overlap; each mid is shown once. */
export function acceptLive(room: Room, message: ChatMessage): boolean {
  if (message.mid <= room.lastMid) return false;
  room.lastMid = message.mid;
  if (room.oldestMid === 0) room.oldestMid = message.mid;
  return true;
}

/** Takes in the `history` that answers a `join`; `gap` means messages may have been lost before these. */
export function applyJoinHistory(room: Room, history: HistoryFrame): { gap: boolean; messages: ChatMessage[] } {
  const epochChanged = room.epoch !== undefined && room.epoch !== history.epoch;
  const gap = history.recovered === false || epochChanged;
  // A new epoch numbers its messages from 1 again.
  if (epochChanged) room.lastMid = 0;
  if (gap) room.oldestMid = 0;
  // A full recovery only adds newer messages, so what is stored before them is unchanged.
  if (history.recovered !== true) room.more = history.more;
  room.epoch = history.epoch;
  const messages = history.messages.filter((m) => m.mid > room.lastMid);
  const first = messages[0];
  const last = messages.at(-1);
  if (first && room.oldestMid === 0) room.oldestMid = first.mid;
  if (last) room.lastMid = last.mid;
  return { gap, messages };
}

/** Takes in a page of older messages; returns those to put above the ones shown. */
export function applyOlderHistory(room: Room, history: HistoryFrame): ChatMessage[] {
  room.loadingOlder = false;
  // The history was lost while the page was on its way; its mids mean nothing now.
  if (history.epoch !== room.epoch) return [];
  room.more = history.more;
  const messages = history.messages.filter((m) => m.mid < room.oldestMid);
  const first = messages[0];
  if (first) room.oldestMid = first.mid;
  return messages;
}

export class ClientState {
  myId = "";
  readonly rooms = new Map<string, Room>();
  /** Rooms asked for and not confirmed yet; only these may be added by a `history`. */
  readonly joining = new Set<string>();
  current: string | null = null;
  /** Every id this page has had: a reconnect gets a new one, and old messages are still ours. */
  private readonly ownIds = new Set<string>();

  identify(id: string): void {
    this.myId = id;
    this.ownIds.add(id);
  }

  isOwn(id: string): boolean {
    return this.ownIds.has(id);
  }

  currentRoom(): Room | undefined {
    return this.current === null ? undefined : this.rooms.get(this.current);
  }
}
