import type { RedisLink } from "../redis/redis-link.js";
import type { FailureCount, FailureCounts } from "./failure-windows.js";

/**
 * Failed sign-ins counted in Redis, so that every node counts the same
 * guesses: a guesser spreading attempts over the nodes behind a load
 * balancer gets no more than one node would give.
 */
export class RedisFailureWindows implements FailureCounts {
  constructor(
    private readonly link: RedisLink,
    /** Where the accounts' keys start (accountsBase), so a count shares their Cluster slot. */
    private readonly base: string,
  ) {}

  private key(key: string): string {
    return `${this.base}:f:${key}`;
  }

  async count(key: string, windowMs: number): Promise<FailureCount> {
    const k = this.key(key);
    const [[, count], , [, ttl]] = (await this.link.pub.multi().incr(k).pexpire(k, windowMs, "NX").pttl(k).exec()) as [
      [Error | null, number],
      [Error | null, number],
      [Error | null, number],
    ];
    return { count, endsAt: Date.now() + Math.max(0, ttl) };
  }

  async get(key: string): Promise<FailureCount> {
    const k = this.key(key);
    const [[, count], [, ttl]] = (await this.link.pub.multi().get(k).pttl(k).exec()) as [
      [Error | null, string | null],
      [Error | null, number],
    ];
    return { count: Number(count ?? 0), endsAt: Date.now() + Math.max(0, ttl) };
  }

  async clear(key: string): Promise<void> {
    await this.link.pub.del(this.key(key));
  }

  async forgive(key: string): Promise<void> {
    // Only a count that is there, checked in the same step: a DECR of a key just expired would leave one that never does.
    await this.link.pub.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECR', KEYS[1]) end",
      1,
      this.key(key),
    );
  }

  close(): void {}
}
