import client from "prom-client";
import type { ChatStats, Meter } from "./chat/meter.js";

/** What /metrics serves, and the chat's counters behind it. */
export interface Metrics extends Meter {
  readonly registry: client.Registry;
  /** A request the SockJS endpoint turned away before any session saw it. */
  refusedRequest(reason: string): void;
}

export interface MetricsSources {
  connectionsByTransport(): Map<string, number>;
  redisUp(): boolean | undefined;
  /** Rooms with a member on this node. */
  roomsHere(): number;
  /** Rooms whose history this process keeps (embedded mode only). */
  roomsStored(): number | undefined;
  /** Messages Redis holds that the database has not taken yet, and whether it takes them now (Redis with DATABASE_URL only). */
  archiveLag(): { behind: number; up: boolean } | undefined;
  /** Full collections asked of V8 once the node went quiet after its heap grew. */
  quietCollections(): number;
  /** Scavenges asked of V8 once the node went quiet, to give back a grown young generation. */
  quietScavenges(): number;
  /** Seconds in which scavenges cost enough that V8 could grow the young generation. */
  youngGrowingSeconds(): number;
}

function counterFrom(registry: client.Registry, name: string, help: string, read: () => number): void {
  new client.Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const stats: ChatStats = { framesIn: 0, framesOut: 0, deliveries: 0 };

  new client.Gauge({
    name: "chat_connections",
    help: "Open client connections, by SockJS transport",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, n] of sources.connectionsByTransport()) this.set({ transport }, n);
    },
  });
  counterFrom(registry, "chat_messages_in_total", "Frames received from clients", () => stats.framesIn);
  counterFrom(registry, "chat_messages_out_total", "Frames sent to clients", () => stats.framesOut);
  counterFrom(registry, "chat_deliveries_total", "Room publications written to a local member", () => stats.deliveries);
  counterFrom(
    registry,
    "chat_quiet_collections_total",
    "Full garbage collections asked of V8 once the node went quiet after its heap grew (QUIET_GC_MB)",
    sources.quietCollections,
  );
  counterFrom(
    registry,
    "chat_quiet_scavenges_total",
    "Scavenges asked of V8 once the node went quiet, to give back a young generation that had grown",
    sources.quietScavenges,
  );
  counterFrom(
    registry,
    "chat_young_growing_seconds_total",
    "Seconds in which young-generation collections cost more than YOUNG_GC_PERCENT, so V8 could grow that generation",
    sources.youngGrowingSeconds,
  );
  const errors = new client.Counter({
    name: "chat_errors_total",
    help: "Refused requests and connections, by error code",
    labelNames: ["code"],
    registers: [registry],
  });
  const refusedRequests = new client.Counter({
    name: "chat_refused_requests_total",
    help: "Requests the SockJS endpoint turned away before any session saw them, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  const publish = new client.Histogram({
    name: "chat_bus_publish_seconds",
    help: "Time to store and publish a chat message on the bus",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  new client.Gauge({
    name: "chat_rooms",
    help: "Rooms with a member on this node (where=here); rooms in use that an embedded node holds in memory, its archive keeping them all (where=stored)",
    labelNames: ["where"],
    registers: [registry],
    collect() {
      this.set({ where: "here" }, sources.roomsHere());
      const stored = sources.roomsStored();
      if (stored !== undefined) this.set({ where: "stored" }, stored);
    },
  });
  new client.Gauge({
    name: "chat_redis_up",
    help: "1 while Redis is reachable, 0 while not; absent in the embedded mode",
    registers: [registry],
    collect() {
      const up = sources.redisUp();
      if (up !== undefined) this.set(up ? 1 : 0);
    },
  });

  new client.Gauge({
    name: "chat_archive_behind_messages",
    help: "Messages stored in Redis and not yet in the database; absent without Redis and DATABASE_URL together",
    registers: [registry],
    collect() {
      const lag = sources.archiveLag();
      if (lag !== undefined) this.set(lag.behind);
    },
  });
  new client.Gauge({
    name: "chat_archive_up",
    help: "1 while the database takes the messages carried from Redis, 0 while not; absent without both",
    registers: [registry],
    collect() {
      const lag = sources.archiveLag();
      if (lag !== undefined) this.set(lag.up ? 1 : 0);
    },
  });

  return {
    registry,
    stats,
    refused: (code) => errors.inc({ code }),
    refusedRequest: (reason) => refusedRequests.inc({ reason }),
    publishTimer: () => publish.startTimer(),
  };
}
