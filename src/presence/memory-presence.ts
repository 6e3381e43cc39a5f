import type {
  Connection,
  Entered,
  Entrant,
  ListedUser,
  NameTaken,
  Presence,
  PresenceHandler,
  Renamed,
  UserPage,
} from "./presence.js";

interface InRoom {
  name: string;
  /** The name's key, which the user holds in the room. */
  key: string;
  /** The connection that stands for the user (the newest). */
  rep: string;
  /** The user's connections in the room. */
  count: number;
  /** Set while the user's last connection is gone and the grace period runs. */
  leaving: NodeJS.Timeout | undefined;
}

interface RoomState {
  /** connection → user */
  conns: Map<string, string>;
  users: Map<string, InRoom>;
  /** A name's key → the user holding it. */
  names: Map<string, string>;
}

/** Presence for a lone process: every connection is this node's, so there is no one to find elsewhere. */
export class MemoryPresence implements Presence {
  private handler: PresenceHandler | undefined;
  private readonly rooms = new Map<string, RoomState>();

  async start(handler: PresenceHandler): Promise<void> {
    this.handler = handler;
  }

  // The hub finds this node's connections itself; there are no other nodes.
  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {}

  async find(): Promise<Connection | undefined> {
    return undefined;
  }

  async findUser(): Promise<Connection | undefined> {
    return undefined;
  }

  async nodesOf(): Promise<string[]> {
    return [];
  }

  async enter(room: string, c: Entrant, listUpTo = 0): Promise<Entered | NameTaken> {
    let state = this.rooms.get(room);
    if (!state) {
      state = { conns: new Map(), users: new Map(), names: new Map() };
      this.rooms.set(room, state);
    }
    if (takenIn(state, c)) return { taken: true };
    let user = state.users.get(c.uid);
    const first = user === undefined;
    if (!user) {
      user = { name: c.name, key: c.nameKey, rep: c.id, count: 0, leaving: undefined };
      state.users.set(c.uid, user);
    }
    hold(state, c.uid, user, c.nameKey);
    if (!state.conns.has(c.id)) {
      state.conns.set(c.id, c.uid);
      user.count++;
    }
    user.name = c.name;
    user.rep = c.id;
    clearTimeout(user.leaving);
    user.leaving = undefined;
    const entered: Entered = { first, count: state.users.size };
    if (state.users.size <= listUpTo) entered.users = listed([...state.users]);
    return entered;
  }

  async exit(room: string, c: Connection, graceMs: number): Promise<void> {
    const state = this.rooms.get(room);
    if (!state?.conns.delete(c.id)) return;
    const user = state.users.get(c.uid);
    if (!user) return;
    if (--user.count > 0) {
      // Another of the user's connections stands for them, so that a `pm` to the listed id still reaches them.
      if (user.rep === c.id) {
        for (const [conn, uid] of state.conns) {
          if (uid === c.uid) {
            user.rep = conn;
            break;
          }
        }
      }
      return;
    }
    clearTimeout(user.leaving);
    // Gone at once, as in Redis: the name is free for the next to enter, with no timer between.
    if (graceMs === 0) {
      this.gone(room, c.uid);
      return;
    }
    user.leaving = setTimeout(() => this.gone(room, c.uid), graceMs);
    user.leaving.unref();
  }

  async rename(rooms: string[], c: Entrant): Promise<Renamed> {
    const states = rooms.flatMap((room) => {
      const state = this.rooms.get(room);
      return state?.users.has(c.uid) ? [{ room, state }] : [];
    });
    const taken = states.find(({ state }) => takenIn(state, c));
    if (taken) return { taken: taken.room };
    for (const { state } of states) {
      const user = state.users.get(c.uid) as InRoom;
      user.name = c.name;
      hold(state, c.uid, user, c.nameKey);
    }
    return { rooms: states.map(({ room }) => room) };
  }

  async list(room: string, limit: number, after?: string): Promise<UserPage> {
    const users = [...(this.rooms.get(room)?.users ?? [])];
    const from = after === undefined ? 0 : Math.max(0, Number.parseInt(after, 10) || 0);
    const page = listed(users.slice(from, from + limit));
    const next = from + limit < users.length ? String(from + limit) : undefined;
    return { users: page, count: users.length, next };
  }

  async close(): Promise<void> {
    for (const state of this.rooms.values()) for (const user of state.users.values()) clearTimeout(user.leaving);
    this.rooms.clear();
  }

  private gone(room: string, uid: string): void {
    const state = this.rooms.get(room);
    const user = state?.users.get(uid);
    if (!state || !user || user.count > 0) return;
    state.users.delete(uid);
    if (state.names.get(user.key) === uid) state.names.delete(user.key);
    if (state.users.size === 0) this.rooms.delete(room);
    this.handler?.onGone(room, [{ id: user.rep, uid, name: user.name }], state.users.size);
  }
}

const listed = (users: [string, InRoom][]): ListedUser[] => users.map(([uid, u]) => ({ id: u.rep, uid, name: u.name }));

function takenIn(state: RoomState, c: Entrant): boolean {
  const holder = state.names.get(c.nameKey);
  return holder !== undefined && holder !== c.uid;
}

/** The user holds the name of `key` in the room, and no longer the one they held before. */
function hold(state: RoomState, uid: string, user: InRoom, key: string): void {
  if (user.key !== key && state.names.get(user.key) === uid) state.names.delete(user.key);
  user.key = key;
  state.names.set(key, uid);
}
