import { EventEmitter } from "node:events";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { defineScripts } from "./scripts.js";

export interface HostPort {
  host: string;
  port: number;
}

/** Where Redis is: one server, a Cluster, or a primary that Sentinel watches. */
export type RedisTarget =
  | { kind: "single"; url: string }
  | { kind: "cluster"; nodes: HostPort[]; password: string | undefined }
  | { kind: "sentinel"; sentinels: HostPort[]; name: string; password: string | undefined };

export interface RedisLinkOptions {
  target: RedisTarget;
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

export type RedisClient = Redis | Cluster;

/** How soon a connection that ioredis ended by itself is started again. */
const RECONNECT_AFTER_END_MS = 500;

/** What a connection is for: commands, subscriptions, or one command that blocks (WAIT). */
type Role = "pub" | "sub" | "wait";

function connect(target: RedisTarget, role: Role): RedisClient {
  const connectionName = `chat-${role}`;
  switch (target.kind) {
    case "single":
      return new Redis(target.url, { ...clientOptions, connectionName });
    case "sentinel":
      return new Redis({
        ...clientOptions,
        connectionName,
        sentinels: target.sentinels,
        name: target.name,
        password: target.password,
        // Listen to the sentinels' +switch-master rather than wait for the old primary to time out.
        failoverDetector: true,
      });
    case "cluster":
      return new Cluster(target.nodes, {
        lazyConnect: true,
        enableOfflineQueue: false,
        // Each shard's channels get a subscriber connection to that shard, which
        // ioredis moves with the slots (MOVED, SUNSUBSCRIBE on migration).
        shardedSubscribers: role === "sub",
        clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
        redisOptions: { ...clientOptions, connectionName, password: target.password },
      });
  }
}

/**
 * The process's two connections to Redis, as the tutorial had them: one to
 * publish and run commands (the scripts of ./lua defined on it), one to subscribe (in a Cluster, one of each per
 * shard). Emits `down` once per outage and `up` when both are back.
 */
export class RedisLink extends EventEmitter<{ up: []; down: [] }> {
  readonly pub: RedisClient;
  readonly sub: RedisClient;
  /** Cluster rooms use sharded Pub/Sub, so each room's traffic stays on the shard that owns it. */
  readonly sharded: boolean;
  /** Connections opened for one purpose besides the two (open()): not counted in up and down, closed with the link. */
  private readonly others: RedisClient[] = [];
  private up = false;
  private closing = false;

  constructor(
    private readonly options: RedisLinkOptions,
    private readonly log: Logger,
  ) {
    super();
    this.sharded = options.target.kind === "cluster";
    this.pub = connect(options.target, "pub");
    this.sub = connect(options.target, "sub");
    defineScripts(this.pub);
    for (const client of [this.pub, this.sub]) {
      // ioredis reports each failed reconnect; the outage is logged once, in markDown.
      client.on("error", () => undefined);
      client.on("close", () => this.markDown());
      client.on("end", () => this.ended(client));
      client.on("ready", () => this.checkUp());
    }
  }

  /**
   * ioredis ends a connection for good when a reconnect is cut short: its
   * Sentinel failover detector, hearing +switch-master while the client is
   * already reconnecting after the primary died, aborts that reconnect, and
   * nothing tries again. Only close() may end a link, so it starts over.
   */
  private ended(client: RedisClient): void {
    this.markDown();
    this.restartEnded(client);
  }

  private restartEnded(client: RedisClient): void {
    if (this.closing) return;
    setTimeout(() => {
      if (!this.closing && client.status === "end") client.connect().catch(() => undefined);
    }, RECONNECT_AFTER_END_MS).unref();
  }

  get isUp(): boolean {
    return this.up;
  }

  /**
   * One more connection to the same Redis, for a command that blocks its
   * connection (WAIT), so that nothing else queues behind it. It reconnects
   * like the others and is closed with the link.
   */
  open(role: "wait"): RedisClient {
    const client = connect(this.options.target, role);
    this.others.push(client);
    client.on("error", () => undefined);
    client.on("end", () => this.restartEnded(client));
    client.connect().catch(() => undefined);
    return client;
  }

  describe(): string {
    const t = this.options.target;
    if (t.kind === "single") return redactUrl(t.url);
    const list = (t.kind === "cluster" ? t.nodes : t.sentinels).map((n) => `${n.host}:${n.port}`).join(",");
    return t.kind === "cluster" ? `cluster ${list}` : `sentinel ${t.name} via ${list}`;
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
            new Error(`Redis at ${this.describe()} not reachable within ${this.options.connectTimeoutMs} ms: ${why}`),
          );
        }, this.options.connectTimeoutMs);
        this.once("up", () => {
          clearTimeout(timer);
          resolve();
        });
        for (const c of clients) c.connect().catch(onError);
      });
    } catch (err) {
      this.closing = true;
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

  /** True while Redis can take commands now (the subscriber may still be reconnecting). */
  get ready(): boolean {
    return this.pub.status === "ready";
  }

  async subscribe(channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    if (!this.sharded) {
      await this.sub.subscribe(...channels);
      return;
    }
    // Sharded subscriptions go one channel at a time: each may live on another shard.
    await Promise.all(channels.map((c) => this.sub.ssubscribe(c)));
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.sharded) await this.sub.sunsubscribe(channel);
    else await this.sub.unsubscribe(channel);
  }

  async publish(channel: string, payload: string): Promise<number> {
    return Number(await (this.sharded ? this.pub.spublish(channel, payload) : this.pub.publish(channel, payload)));
  }

  onMessage(listener: (channel: string, payload: string) => void): void {
    this.sub.on(this.sharded ? "smessage" : "message", listener);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.up = false;
    const clients = [this.pub, this.sub, ...this.others];
    await Promise.allSettled(clients.map((c) => c.quit()));
    for (const c of clients) c.disconnect();
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
