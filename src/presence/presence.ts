/**
 * Who is connected, and who is in which room, across every node: the seam
 * between the embedded store and the Redis one, after centrifuge's
 * PresenceManager. Presence is per user: a user is in a room while any of
 * their connections is, on any node, and for a grace period after the last
 * one closed (PRESENCE_GRACE), so a reload or a reconnect announces nothing.
 */

/** One connection of a user. */
export interface Member {
  /** The connection. */
  id: string;
  /** The user. */
  uid: string;
  name: string;
}

export interface PresenceHandler {
  /** Users whose grace period in a room ran out with no connection back; `count` users remain. */
  onGone(room: string, people: Member[], count: number): void;
}

export interface Entered {
  /** The user was not in the room before (not even in their grace period). */
  first: boolean;
  /** Users in the room now. */
  count: number;
}

export interface UserPage {
  /** One entry per user; `id` is one of their connections. */
  users: Member[];
  /** Users in the room. */
  count: number;
  /** Where the next page starts, when there is one. */
  next?: string;
}

export interface Presence {
  start(handler: PresenceHandler): Promise<void>;
  /** Makes a connection of this node findable by the other nodes, under its current name. */
  connect(member: Member): Promise<void>;
  disconnect(member: Member): Promise<void>;
  /** A connection another node holds, or undefined. Rejects when the other nodes cannot be asked now. */
  find(id: string): Promise<Member | undefined>;
  /** A connection of the user that another node holds, or undefined. Rejects when the other nodes cannot be asked now. */
  findUser(uid: string): Promise<Member | undefined>;
  /** The other nodes that hold a connection of the user. Rejects when they cannot be asked now. */
  nodesOf(uid: string): Promise<string[]>;
  enter(room: string, member: Member): Promise<Entered>;
  /**
   * The connection left the room. If it was its user's last there, the user
   * leaves after `graceMs` (onGone) unless a connection comes back first.
   */
  exit(room: string, member: Member, graceMs: number): Promise<void>;
  /** The user of a connection in the room has a new name. */
  rename(room: string, member: Member): Promise<void>;
  /** A page of a room's users: `after` is the `next` of the page before. */
  list(room: string, limit: number, after?: string): Promise<UserPage>;
  close(): Promise<void>;
}
