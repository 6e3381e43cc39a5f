/**
 * Who is connected, and who is in which room, across every node: the seam
 * between the embedded store and the Redis one, after centrifuge's
 * PresenceManager.
 */
export interface Member {
  id: string;
  name: string;
}

export interface PresenceHandler {
  /** A dead node's members, already taken off these lists: their departure is for the chat to announce. */
  onGone(room: string, members: Member[]): void;
}

export interface Presence {
  start(handler: PresenceHandler): Promise<void>;
  /** Makes a connection of this node findable by the other nodes, under its current name. */
  connect(member: Member): Promise<void>;
  disconnect(id: string): Promise<void>;
  /**
   * A connection that another node holds, or undefined when none does.
   * Rejects when the other nodes cannot be asked right now.
   */
  find(id: string): Promise<Member | undefined>;
  /** Adds a member to a room's list, or renames one already there. */
  add(room: string, member: Member): Promise<void>;
  remove(room: string, id: string): Promise<void>;
  list(room: string): Promise<Member[]>;
  close(): Promise<void>;
}
