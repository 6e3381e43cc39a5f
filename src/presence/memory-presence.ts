import type { Member, Presence } from "./presence.js";

/** Presence for a lone process: rooms' member lists, and no other node to find connections on. */
export class MemoryPresence implements Presence {
  private readonly rooms = new Map<string, Map<string, Member>>();

  async start(): Promise<void> {}

  // Every connection is this node's own, and the hub knows those: there is nothing to publish or find.
  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {}

  async find(): Promise<Member | undefined> {
    return undefined;
  }

  async add(room: string, member: Member): Promise<void> {
    let members = this.rooms.get(room);
    if (!members) {
      members = new Map();
      this.rooms.set(room, members);
    }
    members.set(member.id, { id: member.id, name: member.name });
  }

  async remove(room: string, id: string): Promise<void> {
    const members = this.rooms.get(room);
    if (!members) return;
    members.delete(id);
    if (members.size === 0) this.rooms.delete(room);
  }

  async list(room: string): Promise<Member[]> {
    return [...(this.rooms.get(room)?.values() ?? [])];
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
