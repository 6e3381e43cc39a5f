/**
 * Who is connected, and who is in which room, across every node: the seam
 * between the embedded store and the Redis one, after centrifuge's
 * PresenceManager. Presence is per user: a user is in a room while any of
 * their connections is, on any node, and for a grace period after the last
 * one closed (PRESENCE_GRACE), so a reload or a reconnect announces nothing.
 */

/** One connection of a user, as presence knows it. */
export interface Connection {
  /** The connection. */
  id: string;
  /** The user. */
  uid: string;
  name: string;
}

/** A connection entering rooms: its user's name is held in each. */
export interface Entrant extends Connection {
  /** The name as names are compared: two users whose names have one key may not share a room. */
  readonly nameKey: string;
}

/** One user in a room's list. */
export interface ListedUser {
  uid: string;
  name: string;
  /** The connection that stands for the user (the original protocol's `id`). */
  id: string;
}

export interface PresenceHandler {
  /** Users whose grace period in a room ran out with no connection back; `count` users remain. */
  onGone(room: string, users: ListedUser[], count: number): void;
  /**
   * Users listed in a room again without a new arrival: this node's lease on
   * the room had lapsed (it was silent too long), others announced them gone,
   * and the node put its connections back.
   */
  onBack(room: string, users: ListedUser[], count: number): void;
}

/** Another user in the room holds the name (by its key). */
export interface NameTaken {
  taken: true;
}

/** Where a rename took: the rooms the user is in now; or the first room where another user holds the name. */
export type Renamed = { taken?: undefined; rooms: string[] } | { taken: string };

export interface Entered {
  taken?: undefined;
  /** The user was not in the room before (not even in their grace period). */
  first: boolean;
  /** Users in the room now. */
  count: number;
  /** Set when the other nodes could not be asked: `count` is this node's users only. */
  partial?: true;
  /**
   * Everyone in the room right after the entry, read in the same step, when
   * the room holds no more users than enter() was asked to list.
   */
  users?: ListedUser[];
}

export interface UserPage {
  users: ListedUser[];
  /** Users in the room. */
  count: number;
  /** Where the next page starts, when there is one. */
  next?: string;
  /**
   * Set when the other nodes could not be asked (Redis out of reach): the page
   * and the count are only this node's users.
   */
  partial?: true;
}

export interface Presence {
  start(handler: PresenceHandler): Promise<void>;
  /** Makes a connection of this node findable by the other nodes, under its current name. */
  connect(connection: Connection): Promise<void>;
  disconnect(connection: Connection): Promise<void>;
  /** A connection another node holds, or undefined. Rejects when the other nodes cannot be asked now. */
  find(id: string): Promise<Connection | undefined>;
  /** A connection of the user that another node holds, or undefined. Rejects when the other nodes cannot be asked now. */
  findUser(uid: string): Promise<Connection | undefined>;
  /** The other nodes that hold a connection of the user. Rejects when they cannot be asked now. */
  nodesOf(uid: string): Promise<string[]>;
  /**
   * The connection enters the room, unless another user there holds its
   * name: decided in one step on every node, so of two users taking one name
   * at once only one gets in. With `listUpTo`, a room of at most that many
   * users is listed in the same step (`users`): a join needs the list next.
   */
  enter(room: string, connection: Entrant, listUpTo?: number): Promise<Entered | NameTaken>;
  /**
   * The connection left the room. If it was its user's last there, the user
   * leaves after `graceMs` (onGone) unless a connection comes back first.
   */
  exit(room: string, connection: Connection, graceMs: number): Promise<void>;
  /**
   * The user of a connection takes its (new) name in those of `rooms` they
   * are in now, all or none: none when another user holds it in one of them.
   */
  rename(rooms: string[], connection: Entrant): Promise<Renamed>;
  /** A page of a room's users: `after` is the `next` of the page before. */
  list(room: string, limit: number, after?: string): Promise<UserPage>;
  close(): Promise<void>;
}
