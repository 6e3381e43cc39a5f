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

  /** The highest mid published after its replicas had it (Sentinel only). */
  roomPublished(room: string): string {
    return `${this.tag(room)}:pub`;
  }

  roomEpoch(room: string): string {
    return `${this.tag(room)}:epoch`;
  }

  /** A message sent with an idempotency key: its mid, for a while. */
  roomSent(room: string, key: string): string {
    return `${this.tag(room)}:sent:${key}`;
  }

  roomMembers(room: string): string {
    return `${this.tag(room)}:members`;
  }

  /** Tagged like a room's names, so in a Cluster it is a sharded channel of its own. */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}:{${this.prefix}:node:${nodeId}}`;
  }

  /** Heartbeats: node id scored by the time of its last beat. */
  nodes(): string {
    return `${this.prefix}:nodes`;
  }

  /** A node's connections (connection id → name), so that other nodes can find them. */
  nodeConnections(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}:conns`;
  }

  /** The rooms where a node has (or had) members, for cleaning up after it. */
  nodeRooms(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}:rooms`;
  }
}
