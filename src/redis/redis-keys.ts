/** Sets the rooms to carry into the database are noted in. */
export const CARRY_SHARDS = 16;

/**
 * Every Redis key and channel name in one place. A room's keys and channel
 * share the hash tag `{prefix:room}`, so in a Redis Cluster they live on one
 * shard, and a script can touch them together.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  private tag(room: string): string {
    return `${this.prefix}:{${this.prefix}:${room}}`;
  }

  roomChannel(room: string): string {
    return `${this.tag(room)}:msg`;
  }

  roomSeq(room: string): string {
    return `${this.tag(room)}:seq`;
  }

  roomLog(room: string): string {
    return `${this.tag(room)}:log`;
  }

  /** A room's newest messages, each as it is now (src/redis/lua/store-and-publish.lua): mid → bundle. */
  roomWindow(room: string): string {
    return `${this.tag(room)}:win`;
  }

  /** The mids the window holds, in order: a list (`:winmids` was an earlier version's sorted set). */
  roomWindowMids(room: string): string {
    return `${this.tag(room)}:winlist`;
  }

  /** The lowest mid from which the log holds every entry that was not deleted. */
  roomLogFloor(room: string): string {
    return `${this.tag(room)}:floor`;
  }

  /** The highest mid published after its replicas had it (Sentinel only). */
  roomPublished(room: string): string {
    return `${this.tag(room)}:pub`;
  }

  roomEpoch(room: string): string {
    return `${this.tag(room)}:epoch`;
  }

  /** What the database has not taken yet of a room's messages (with DATABASE_URL). */
  roomCarry(room: string): string {
    return `${this.tag(room)}:carry`;
  }

  /**
   * The edits and deletions in a room's carry stream, by the message they
   * change, kept a while after they are carried: what the database's copy of
   * a message does not say yet (with DATABASE_URL).
   */
  roomCarryChanges(room: string): string {
    return `${this.tag(room)}:carry-changes`;
  }

  /** The node carrying a room into the database right now, for a lease's length. */
  roomCarrier(room: string): string {
    return `${this.tag(room)}:carrier`;
  }

  /**
   * Rooms whose carry stream may hold entries, in CARRY_SHARDS sets, so that
   * in a Cluster the bookkeeping of many rooms is spread over many shards.
   */
  carryIndex(shard: number): string {
    return `${this.prefix}:{${this.prefix}:carry:${shard}}:rooms`;
  }

  /** The carry index set a room is noted in. */
  carryIndexOf(room: string): string {
    let h = 0;
    for (let i = 0; i < room.length; i++) h = (h * 31 + room.charCodeAt(i)) >>> 0;
    return this.carryIndex(h % CARRY_SHARDS);
  }

  /** A message sent with an idempotency key: its mid, for a while. */
  roomSent(room: string, key: string): string {
    return `${this.tag(room)}:sent:${key}`;
  }

  /**
   * Presence, the seven keys of a room's presence scripts (src/redis/lua/presence-room.lua):
   * connection → user, user → name (those in their grace period included), user → connections
   * there, user → the connection that stands for them (the original protocol's `id`), node → when
   * its lease on the room runs out, user → when the room is to hear they left, and the names
   * held there (a name's key → user, user → their name's key).
   */
  roomPresence(room: string): [string, string, string, string, string, string, string] {
    const t = this.tag(room);
    return [`${t}:conns`, `${t}:users`, `${t}:counts`, `${t}:reps`, `${t}:leases`, `${t}:leaving`, `${t}:names`];
  }

  /** Presence: the users in a room (user id → name), those in their grace period included. */
  roomUsers(room: string): string {
    return `${this.tag(room)}:users`;
  }

  /** Presence: one connection of each user in a room (user id → connection id). */
  roomReps(room: string): string {
    return `${this.tag(room)}:reps`;
  }

  private userTag(uid: string): string {
    return `${this.prefix}:{${this.prefix}:user:${uid}}`;
  }

  /** A user's connections on every node (connection id → node id). */
  userConnections(uid: string): string {
    return `${this.userTag(uid)}:conns`;
  }

  userName(uid: string): string {
    return `${this.userTag(uid)}:name`;
  }

  /** The rooms a user is in, whichever connection joined them. */
  userRooms(uid: string): string {
    return `${this.userTag(uid)}:rooms`;
  }

  /** The users a user has conversations with, scored by the last message's time. */
  userConversations(uid: string): string {
    return `${this.userTag(uid)}:convs`;
  }

  /** How many first direct messages a user got in the current minute (FIRST_DMS_PER_RECIPIENT). */
  userFirstContacts(uid: string): string {
    return `${this.userTag(uid)}:firsts`;
  }

  /** What a user has read: room or conversation → "epoch:mid". */
  userRead(uid: string): string {
    return `${this.userTag(uid)}:read`;
  }

  /** The secret guest identities are signed with, when GUEST_SECRET does not give one. */
  guestSecret(): string {
    return `${this.prefix}:guest-secret`;
  }

  /** Tagged like a room's names, so in a Cluster it is a sharded channel of its own. */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}:{${this.prefix}:node:${nodeId}}`;
  }

  /** Heartbeats: node id scored by the time of its last beat (Redis's clock). */
  nodes(): string {
    return `${this.prefix}:nodes`;
  }

  /** A node's mark in the replication stream: written just before WAIT, so WAIT covers the node's writes before it. */
  nodeReplicationMark(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}:replicated`;
  }

  /** A node's connections (connection id → "uid\tname"), so that other nodes can find them. */
  nodeConnections(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}:conns`;
  }
}
