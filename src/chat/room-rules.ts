import type { Logger } from "pino";
import type { RoomInfo } from "../protocol/frames.js";
import { isPrivateId, type Role } from "../protocol/rooms.js";
import { DEFAULT_ROOM } from "../protocol/rules.js";
import type { RoomRecord, RoomStore } from "../rooms/room-store.js";
import { TickShared } from "./tick-shared.js";

interface Entry {
  info: RoomInfo | undefined;
  /** Roles looked up here, by uid; null for none. */
  roles: Map<string, Role | null>;
}

/** What a room that no store holds is: the lobby, or one a `join` made, public, held by the admins. */
export function implicitRoom(id: string): RoomInfo {
  return { room: id, name: id === DEFAULT_ROOM ? "Lobby" : id, topic: "", visibility: "public", created: 0, v: 0 };
}

export function infoOf(r: RoomRecord): RoomInfo {
  const { id, name, topic, visibility, creator, created, version } = r;
  return { room: id, name, topic, visibility, creator, created, v: version };
}

/**
 * This node's copy of the rules of the rooms its sessions are in: what each
 * room is, and the roles of the users who asked. Posting and reacting read
 * only this, never the store, so chat goes on while the database is away. A
 * change is written to the store first, then announced on the room's
 * channel (a `rules` envelope, Hub.announceRules): every node holding the
 * room reads it again.
 */
export class RoomRules {
  private readonly rooms = new Map<string, Entry>();
  /** The joins of a room not held here yet, arriving together, read it once. */
  private readonly reads = new TickShared<RoomInfo | undefined>();
  private readonly touches = new TickShared<void>();

  constructor(
    readonly store: RoomStore,
    private readonly log: Logger,
  ) {}

  /** What the room is (cached while held); undefined for a private id nobody holds. Rejects while the store is away and nothing is cached. */
  async info(id: string): Promise<RoomInfo | undefined> {
    const cached = this.rooms.get(id);
    if (cached) return cached.info;
    return this.reads.get(id, () => this.read(id));
  }

  /** Keeps a room a join made for another idle time (RoomStore.touch): the joins of one turn touch it once. */
  touch(id: string): Promise<void> {
    return this.touches.get(id, () => this.store.touch(id));
  }

  /**
   * Keeps a room's rules here while a session is in it (until `forget`):
   * only rooms entered are kept, so probing ids grows nothing.
   */
  hold(id: string, info: RoomInfo, uid: string, role: Role | undefined): void {
    const entry = this.rooms.get(id) ?? { info, roles: new Map() };
    entry.roles.set(uid, role ?? null);
    this.rooms.set(id, entry);
  }

  /** What is known here of a room, without asking the store. */
  cachedInfo(id: string): RoomInfo | undefined {
    return this.rooms.get(id)?.info;
  }

  /**
   * The role `uid` holds in the room, read from the store (a way in must not
   * trust a copy: another node may have just made them a member); the copy
   * here is brought up to date for the paths that read only it.
   */
  async storedRole(id: string, uid: string): Promise<Role | undefined> {
    const held = (await this.store.member(id, uid))?.role;
    this.rooms.get(id)?.roles.set(uid, held ?? null);
    return held;
  }

  /** The stored role as known here; undefined for none or not yet looked up. */
  cachedRole(id: string, uid: string): Role | undefined {
    return this.rooms.get(id)?.roles.get(uid) ?? undefined;
  }

  /** The room's rules changed on some node: read them again, keeping the old ones until the new have come. */
  changed(id: string): void {
    const entry = this.rooms.get(id);
    if (!entry) return;
    void this.reload(id, entry).catch((err: unknown) =>
      this.log.warn({ err, room: id }, "could not read a room's changed rules: the old ones hold here"),
    );
  }

  /** No session here is in the room any more: its rules are read afresh when one comes. */
  forget(id: string): void {
    this.rooms.delete(id);
  }

  private async reload(id: string, entry: Entry): Promise<void> {
    const info = await this.read(id);
    const uids = [...entry.roles.keys()];
    const roles = await Promise.all(uids.map((uid) => this.store.member(id, uid)));
    const fresh: Entry = { info, roles: new Map(uids.map((uid, i) => [uid, roles[i]?.role ?? null])) };
    const current = this.rooms.get(id);
    if (current === entry) this.rooms.set(id, fresh);
    // Two reloads at once may end in either order: the later change stands, whichever read it.
    else if (current && info && info.v > (current.info?.v ?? -1)) current.info = info;
  }

  private async read(id: string): Promise<RoomInfo | undefined> {
    const record = await this.store.get(id);
    if (record) return infoOf(record);
    return isPrivateId(id) ? undefined : implicitRoom(id);
  }
}
