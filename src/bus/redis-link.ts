import { EventEmitter } from "node:events";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { BrokerUnavailable } from "./broker.js";

export interface RedisLinkOptions {
  url: string;
  /** How long start() may wait for Redis before giving up. */
  connectTimeoutMs: number;
}

const clientOptions: RedisOptions = {
  lazyConnect: true,
  // A command during an outage fails at once instead of waiting in a queue:
  // the chat then tells the sender, rather than hold the message unseen.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  // The subscriber is resubscribed by RedisBroker, which must know when that
  // is done to replay what the outage held back.
  autoResubscribe: false,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000) + Math.floor(Math.random() * 100),
};

/**
 * The process's two connections to Redis, as the tutorial had them: one to
 * publish and run commands, one to subscribe. Emits `down` once per outage and
 * `up` when both are back.
 */
export class RedisLink extends EventEmitter<{ up: []; down: [] }> {
  readonly pub: Redis;
  readonly sub: Redis;
  private up = false;

  constructor(
    private readonly options: RedisLinkOptions,
    private readonly log: Logger,
  ) {
    super();
    this.pub = new Redis(options.url, { ...clientOptions, connectionName: "chat-pub" });
    this.sub = new Redis(options.url, { ...clientOptions, connectionName: "chat-sub" });
    for (const client of [this.pub, this.sub]) {
      // ioredis reports each failed reconnect; the outage is logged once, in markDown.
      client.on("error", () => undefined);
      client.on("close", () => this.markDown());
      client.on("ready", () => this.checkUp());
    }
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Connects both, or rejects with the reason once `connectTimeoutMs` has passed. */
  async start(): Promise<void> {
    let lastError: Error | undefined;
    const onError = (err: Error) => {
      lastError = err;
    };
    const clients = [this.pub, this.sub];
    for (const c of clients) c.on("error", onError);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const why = lastError?.message ?? "no answer";
          reject(
            new Error(
              `Redis at ${redactUrl(this.options.url)} not reachable within ${this.options.connectTimeoutMs} ms: ${why}`,
            ),
          );
        }, this.options.connectTimeoutMs);
        this.once("up", () => {
          clearTimeout(timer);
          resolve();
        });
        for (const c of clients) c.connect().catch(onError);
      });
    } catch (err) {
      this.pub.disconnect();
      this.sub.disconnect();
      throw err;
    } finally {
      for (const c of clients) c.off("error", onError);
    }
  }

  private checkUp(): void {
    if (this.up || this.pub.status !== "ready" || this.sub.status !== "ready") return;
    this.up = true;
    this.emit("up");
  }

  private markDown(): void {
    if (!this.up) return;
    this.up = false;
    this.log.warn("lost the connection to Redis; reconnecting");
    this.emit("down");
  }

  /** Throws BrokerUnavailable unless Redis can take commands now. */
  assertUp(): void {
    if (this.pub.status !== "ready") throw new BrokerUnavailable();
  }

  async close(): Promise<void> {
    this.up = false;
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
    this.pub.disconnect();
    this.sub.disconnect();
  }
}

/** A Redis URL fit for a log line: without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparseable URL)";
  }
}
