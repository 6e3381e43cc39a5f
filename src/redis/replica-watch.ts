import type { RedisKeys } from "./redis-keys.js";
import type { RedisClient, RedisLink } from "./redis-link.js";

/** How long one WAIT waits for the replicas. */
const WAIT_MS = 1000;
/** How long a replication mark outlives its WAIT. */
const MARK_MS = 60_000;

export interface Replicated {
  acked: number;
  wanted: number;
}

interface Waiter {
  resolve(r: Replicated): void;
  reject(err: unknown): void;
}

/**
 * Behind Sentinel: waits for the replicas to hold this node's writes, on a
 * connection of its own, so that a lagging replica holds back only the
 * publications that wait for it, never heartbeats, history reads or other
 * commands. WAIT covers the writes its own connection made, so each round
 * first writes a mark there: the mark follows, in the one replication
 * stream, every write whose reply came before the round began. Callers
 * that arrive during a round share the next one, so a lagging replica costs
 * each message one WAIT at most, not one per message queued before it.
 *
 * How many replicas to wait for is read from ROLE once a second: as many
 * as are connected (none, right after a failover, rather than stall every
 * message).
 */
export class ReplicaWatch {
  private connected: number;
  private readonly timer: NodeJS.Timeout;
  private readonly client: RedisClient;
  private queue: Waiter[] = [];
  private running = false;

  constructor(
    link: RedisLink,
    private readonly keys: RedisKeys,
    private readonly nodeId: string,
    private readonly expected: number,
  ) {
    this.connected = expected;
    this.client = link.open("wait");
    this.timer = setInterval(() => {
      if (!link.isUp) return;
      link.pub
        .call("ROLE")
        .then((role) => {
          const [kind, , replicas] = role as [string, number, unknown[]];
          this.connected = kind === "master" ? replicas.length : 0;
        })
        .catch(() => undefined);
    }, 1000);
    this.timer.unref();
  }

  /** Resolves once its connection is ready, so that the first message does not find it still connecting. */
  async ready(): Promise<void> {
    if (this.client.status === "ready") return;
    await new Promise((resolve) => this.client.once("ready", resolve));
  }

  /** Resolves once every write whose reply this node had before the call is on the replicas, or WAIT gave up. */
  replicated(): Promise<Replicated> {
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      if (!this.running) void this.rounds();
    });
  }

  private async rounds(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const round = this.queue;
      this.queue = [];
      const wanted = Math.min(this.expected, this.connected);
      try {
        let acked = 0;
        if (wanted > 0) {
          await this.client.set(this.keys.nodeReplicationMark(this.nodeId), Date.now(), "PX", MARK_MS);
          acked = Number(await this.client.call("WAIT", wanted, WAIT_MS));
        }
        for (const w of round) w.resolve({ acked, wanted });
      } catch (err) {
        for (const w of round) w.reject(err);
      }
    }
    this.running = false;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
