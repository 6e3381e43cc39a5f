import type { RedisLink } from "./redis-link.js";

/**
 * Behind Sentinel: how many replicas the primary has right now, read from
 * ROLE once a second, so that a write waits for as many as are there (none,
 * right after a failover, rather than stall every message).
 */
export class ReplicaWatch {
  private connected: number;
  private readonly timer: NodeJS.Timeout;

  constructor(link: RedisLink, expected: number) {
    this.connected = expected;
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

  get count(): number {
    return this.connected;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
