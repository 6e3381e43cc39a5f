import type { HistoryPage } from "../bus/broker.js";
import { RequestError } from "../protocol/errors.js";
import type { StoredMessage } from "../protocol/frames.js";
import { atLeast } from "../protocol/rooms.js";
import { type ModerationStore, type RoomModeration, running } from "../rooms/moderation-store.js";
import * as frames from "./frames.js";
import type { Caller } from "./handlers/caller.js";
import { authorOf, type Recipient } from "./local-rooms.js";
import { cachedRoleIn } from "./room-access.js";
import { TickShared } from "./tick-shared.js";

/** A cached room is read again after this long even if no node said it changed: a missed word on the bus heals. */
const STALE_MS = 60_000;
/** Rooms whose moderation one node caches at most; the least recently loaded go first. */
const MAX_CACHED = 4096;

interface Cached {
  value?: RoomModeration;
  loading?: Promise<RoomModeration>;
  at: number;
  /** Bumped by forget(): a load that began before it is not kept. */
  generation: number;
}

/**
 * Each node's view of its rooms' moderation (mutes, bans, slow mode, pin),
 * so that a message is checked without waiting on the store: loaded on a
 * join, forgotten when any node changes it (a `rules` publication in the
 * room, which every node with members there hears).
 */
export class Moderation {
  private readonly cache = new Map<string, Cached>();
  private readonly freshReads = new TickShared<RoomModeration>();

  constructor(
    readonly store: ModerationStore,
    /** REPORTS_PER_HOUR. */
    readonly reportsPerHour: number,
  ) {}

  /** The room's moderation if this node holds it now; undefined means rules() must be waited for. */
  cached(room: string): RoomModeration | undefined {
    const c = this.cache.get(room);
    return c?.value !== undefined && Date.now() - c.at < STALE_MS ? c.value : undefined;
  }

  /** What this node last read of the room, however old: for when the store cannot be asked. */
  lastKnown(room: string): RoomModeration | undefined {
    return this.cache.get(room)?.value;
  }

  rules(room: string): Promise<RoomModeration> {
    const value = this.cached(room);
    if (value !== undefined) return Promise.resolve(value);
    return this.cache.get(room)?.loading ?? this.load(room);
  }

  /**
   * Read from the store, not the cache: for a join, where a ban must hold
   * even on a node that missed its word. The joins of a room in one turn
   * share a read begun after all of them asked.
   */
  fresh(room: string): Promise<RoomModeration> {
    return this.freshReads.get(room, () => this.load(room));
  }

  /** Marks the room's moderation stale: the next post waits for it to be read again; what was read stays the fallback. */
  forget(room: string): void {
    const c = this.cache.get(room);
    if (c) this.cache.set(room, { value: c.value, at: 0, generation: c.generation + 1 });
  }

  private load(room: string): Promise<RoomModeration> {
    const before = this.cache.get(room);
    const generation = before?.generation ?? 0;
    const loading = this.store.room(room);
    // Kept while it loads: should the store fail, a join still has what this node last knew to go by.
    this.cache.delete(room);
    this.cache.set(room, { value: before?.value, at: 0, loading, generation });
    loading.then(
      (value) => {
        if (this.cache.get(room)?.generation === generation) {
          this.cache.set(room, { value, at: Date.now(), generation });
        }
      },
      () => {
        const now = this.cache.get(room);
        if (now?.loading === loading) this.cache.set(room, { value: now.value, at: 0, generation: now.generation });
      },
    );
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= MAX_CACHED) break;
      this.cache.delete(oldest);
    }
    return loading;
  }
}

/** A conversation's page as one who blocked `other` sees it: without what `other` wrote or did there. */
export function withoutBlocked(caller: Recipient, other: string, page: HistoryPage): HistoryPage {
  if (caller.blocked?.has(other) !== true) return page;
  return { ...page, messages: page.messages.filter((m) => authorOf(m.json) !== other) };
}

/** What the page cache files a conversation's page under: one filtered for a blocker is not the other member's. */
export function pageKey(caller: Recipient, conversation: string, other: string): string {
  return caller.blocked?.has(other) === true ? `${conversation}\nwithout ${other}` : conversation;
}

const secondsLeft = (until: number, now: number) => Math.max(1, Math.ceil((until - now) / 1000));

/** A `muted` refusal while `uid` is muted in the room, with the time left when the mute ends. */
export function refuseMuted(m: RoomModeration, uid: string): void {
  const now = Date.now();
  const mute = running(m, uid, "mute", now);
  if (mute === undefined) return;
  if (mute.until === undefined) throw new RequestError("muted", "a moderator muted you in this room");
  const wait = secondsLeft(mute.until, now);
  throw new RequestError("muted", `a moderator muted you in this room for ${wait} s more`, wait);
}

/**
 * Refuses a post by someone muted (`muted`), or whose turn in a slow room
 * has not come (`slow_mode`). While the store cannot be read, what this node
 * last read of the room decides, and with nothing read a post passes: chat
 * goes on, unmoderated for that while, rather than stopping for everyone.
 */
export async function mayPost(caller: Caller, room: string): Promise<void> {
  const { moderation, log } = caller.ctx;
  const m = await moderation.rules(room).catch((err: unknown) => {
    log.warn({ err, room }, "could not read a room's moderation: what this node last read of it decides");
    return moderation.lastKnown(room);
  });
  if (m === undefined) return;
  refuseMuted(m, caller.uid);
  if (m.slow > 0 && !isModerator(caller, room)) await takeTurn(moderation, room, m, caller.uid);
}

/** The room's `room_rules` as this node knows them: without the store, none (no slow mode, no pin). */
export async function roomRulesFrame(caller: Caller, room: string): Promise<string> {
  const m = await caller.ctx.moderation.rules(room).catch((err: unknown) => {
    caller.ctx.log.warn({ err, room }, "could not read a room's moderation");
    return undefined;
  });
  return rulesFrame(room, m);
}

export function rulesFrame(room: string, m: RoomModeration | undefined): string {
  const pinned = m?.pinned === undefined ? undefined : (JSON.parse(m.pinned) as StoredMessage);
  return frames.roomRules({ room, slow: m?.slow ?? 0, pinned, v: m?.version ?? 0 });
}

/** Whether `uid` is banned from the room now. */
export function isBanned(m: RoomModeration, uid: string): boolean {
  return running(m, uid, "ban", Date.now()) !== undefined;
}

/** A moderator is not slowed: they may have to answer a flood. Read from this node's cache, as posting must. */
function isModerator(caller: Caller, room: string): boolean {
  return atLeast(cachedRoleIn(caller, room), "moderator");
}

/** Takes `uid`'s turn in a slow room, on every node: a `slow_mode` refusal with the time left when it is not theirs. */
export async function takeTurn(moderation: Moderation, room: string, m: RoomModeration, uid: string): Promise<void> {
  if (m.slow === 0) return;
  // Turns cannot be counted without the store: the post goes on to reach whom it can.
  const wait = await moderation.store.slowTurn(room, uid, m.slow).catch(() => 0);
  if (wait > 0) {
    throw new RequestError(
      "slow_mode",
      `this room is in slow mode: one message each ${m.slow} s; wait ${wait} s`,
      wait,
    );
  }
}
