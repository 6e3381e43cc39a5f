/**
 * Who is in which room, across every node: the seam between the embedded
 * store and the Redis one, after centrifuge's PresenceManager.
 */
export interface Member {
  id: string;
  name: string;
}

export interface Presence {
  add(room: string, member: Member): Promise<void>;
  remove(room: string, id: string): Promise<void>;
  list(room: string): Promise<Member[]>;
  close(): Promise<void>;
}
