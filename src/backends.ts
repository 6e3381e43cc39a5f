import type { Logger } from "pino";
import type { AccountStore } from "./accounts/account-store.js";
import { accountsBase, RedisAccountStore } from "./accounts/redis-account-store.js";
import { RedisFailureWindows } from "./accounts/redis-failure-windows.js";
import { SqlAccountStore } from "./accounts/sql-account-store.js";
import type { Archive, SearchAnswer, SearchAsk } from "./archive/archive.js";
import { openArchive } from "./archive/open-archive.js";
import { Retention } from "./archive/retention.js";
import { ArchiveCarrier, type ArchiveLag } from "./bus/archive-carrier.js";
import { ArchivedBroker } from "./bus/archived-broker.js";
import type { Broker, HistoryLimits } from "./bus/broker.js";
import { CarriedBroker } from "./bus/carried-broker.js";
import { RedisBroker } from "./bus/redis-broker.js";
import { isConversation } from "./chat/conversations.js";
import type { Config } from "./config.js";
import { MemoryPresence } from "./presence/memory-presence.js";
import type { Presence } from "./presence/presence.js";
import { RedisPresence } from "./presence/redis-presence.js";
import { RedisKeys } from "./redis/redis-keys.js";
import { RedisLink, type RedisTarget } from "./redis/redis-link.js";
import type { ModerationStore } from "./rooms/moderation-store.js";
import { RedisModerationStore } from "./rooms/redis-moderation-store.js";
import { RedisRoomStore } from "./rooms/redis-room-store.js";
import type { RoomStore } from "./rooms/room-store.js";
import { SqlModerationStore } from "./rooms/sql-moderation-store.js";
import { SqlRoomStore } from "./rooms/sql-room-store.js";
import { ArchiveUserStore } from "./users/archive-user-store.js";
import { RedisUserStore } from "./users/redis-user-store.js";
import type { UserStore } from "./users/user-store.js";

/**
 * The bus, presence and user store a node runs on: one process keeping its
 * history and users in an archive (SQLite in DATA_DIR, or PostgreSQL), or
 * all on one Redis deployment.
 */
export interface Backends {
  broker: Broker;
  presence: Presence;
  users: UserStore;
  /**
   * Accounts live in the archive's database, the system of record, whenever
   * there is one: alone, or scaled out through Redis with DATABASE_URL, with
   * failed sign-ins counted in Redis then so that every node counts the same
   * guesses. Scaled out without DATABASE_URL, they live in Redis.
   */
  accounts: AccountStore;
  /** Bans, mutes, slow mode, pins, moderation logs, reports and blocks: beside the accounts, for the same reasons. */
  moderation: ModerationStore;
  /** Rooms' rules: in the archive's database where there is one (the system of record), else in Redis. */
  rooms: RoomStore;
  /** How this node reaches Redis; undefined when embedded. */
  redis: { kind: RedisTarget["kind"]; link: RedisLink } | undefined;
  /** Rooms in use that this process holds in memory (embedded mode only; the archive keeps them all). */
  storedRooms(): number | undefined;
  /** Where a lone process keeps everything, or where Redis's messages are carried to; closed last. */
  archive: Archive | undefined;
  /**
   * `search` over the archive, as messages read now: with Redis, what the
   * database has not taken in yet of an edit or a deletion counts too.
   * Undefined without an archive.
   */
  search: ((ask: SearchAsk) => Promise<SearchAnswer>) | undefined;
  /** How far the archive trails Redis (Redis with DATABASE_URL only). */
  archiveLag(): ArchiveLag | undefined;
  /** Purges the archive of what is past RETENTION_DAYS; stopped before it is closed. */
  retention: Retention | undefined;
}

/** How long a start waits for DATABASE_URL to answer. */
const DATABASE_CONNECT_TIMEOUT_MS = 10_000;
/** Each node looks for messages to carry into the database this often; a dead node's rooms pass on after the lease. */
const CARRY_TIMING = { intervalMs: 200, leaseMs: 3000 };

function historyLimits(config: Config): HistoryLimits {
  const idleS =
    // A room older than its messages' age limit has nothing left worth keeping.
    config.HISTORY_MAX_AGE > 0 ? Math.min(config.ROOM_IDLE_TTL, config.HISTORY_MAX_AGE) : config.ROOM_IDLE_TTL;
  // A conversation waits as long as its users are kept: a message to someone away for a week is still there.
  const conversationIdleS =
    config.HISTORY_MAX_AGE > 0 ? Math.min(config.USER_IDLE_TTL, config.HISTORY_MAX_AGE) : config.USER_IDLE_TTL;
  return {
    size: config.HISTORY_SIZE,
    maxAgeMs: config.HISTORY_MAX_AGE * 1000,
    idleMs: idleS * 1000,
    idleMsOf: (room) => (isConversation(room) ? conversationIdleS : idleS) * 1000,
  };
}

/**
 * With a database behind Redis, what RETENTION_DAYS lets go of is not shown
 * from Redis's window either: a quiet room's window can hold messages far
 * older than that, which the purge does not reach.
 */
function withinRetention(limits: HistoryLimits, days: number): HistoryLimits {
  const retentionMs = days * 86_400_000;
  if (retentionMs === 0 || (limits.maxAgeMs > 0 && limits.maxAgeMs <= retentionMs)) return limits;
  return { ...limits, maxAgeMs: retentionMs };
}

function redisTarget(config: Config): RedisTarget | undefined {
  if (config.REDIS_URL) return { kind: "single", url: config.REDIS_URL };
  if (config.REDIS_CLUSTER_NODES) {
    return { kind: "cluster", nodes: config.REDIS_CLUSTER_NODES, password: config.REDIS_PASSWORD };
  }
  if (config.REDIS_SENTINELS) {
    return {
      kind: "sentinel",
      sentinels: config.REDIS_SENTINELS,
      name: config.REDIS_SENTINEL_NAME,
      password: config.REDIS_PASSWORD,
    };
  }
  return undefined;
}

function purging(archive: Archive, days: number, log: Logger): Retention {
  return new Retention(archive, days, (result) => {
    if ("err" in result) log.warn({ err: result.err }, "could not purge messages past RETENTION_DAYS");
    else if (result.messages > 0) log.info({ messages: result.messages }, "purged messages past RETENTION_DAYS");
  });
}

/** Throws ArchiveError (one line for the operator) when the archive cannot be opened. */
export async function createBackends(config: Config, log: Logger): Promise<Backends> {
  const limits = historyLimits(config);
  const target = redisTarget(config);
  if (!target) {
    const archive = await openArchive(
      config.DATABASE_URL
        ? { kind: "postgres", url: config.DATABASE_URL, connectTimeoutMs: DATABASE_CONNECT_TIMEOUT_MS }
        : { kind: "embedded", dataDir: config.DATA_DIR },
    );
    const broker = new ArchivedBroker(config.NODE_ID, limits, archive, config.RECOVERY_MAX, config.RETENTION_DAYS);
    const retention = purging(archive, config.RETENTION_DAYS, log);
    return {
      broker,
      presence: new MemoryPresence(),
      users: new ArchiveUserStore(archive, config.USER_IDLE_TTL * 1000),
      accounts: new SqlAccountStore(archive),
      moderation: new SqlModerationStore(archive),
      rooms: new SqlRoomStore(archive),
      redis: undefined,
      storedRooms: () => broker.storedRooms,
      archive,
      search: (ask) => archive.search(ask),
      archiveLag: () => undefined,
      retention,
    };
  }
  // Opened before Redis, so a database that cannot be used stops the start as it does alone.
  const archive = config.DATABASE_URL
    ? await openArchive({ kind: "postgres", url: config.DATABASE_URL, connectTimeoutMs: DATABASE_CONNECT_TIMEOUT_MS })
    : undefined;
  const roomLimits = archive ? withinRetention(limits, config.RETENTION_DAYS) : limits;
  const link = new RedisLink({ target, connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT }, log);
  const keys = new RedisKeys(config.REDIS_PREFIX);
  // Behind Sentinel a message must reach the replica before anyone sees it, or a failover could lose it.
  const replicas = target.kind === "sentinel" ? 1 : 0;
  const redisBroker = new RedisBroker(
    config.NODE_ID,
    link,
    keys,
    roomLimits,
    log,
    replicas,
    archive && ((room) => archive.place(room)),
  );
  const carrier = archive && new ArchiveCarrier(link, keys, archive, config.NODE_ID, log, CARRY_TIMING);
  carrier?.start();
  // Every node purges: a purge is one idempotent DELETE per table, and no node is special.
  const retention = archive && purging(archive, config.RETENTION_DAYS, log);
  const carried =
    archive && carrier
      ? new CarriedBroker(redisBroker, carrier, archive, roomLimits, config.RECOVERY_MAX, config.RETENTION_DAYS)
      : undefined;
  return {
    broker: carried ?? redisBroker,
    presence: new RedisPresence(
      link,
      keys,
      { nodeId: config.NODE_ID, ttlMs: config.PRESENCE_TTL * 1000, graceMs: config.PRESENCE_GRACE * 1000 },
      log,
    ),
    users: new RedisUserStore(link, keys, config.USER_IDLE_TTL),
    accounts: archive
      ? new SqlAccountStore(archive, new RedisFailureWindows(link, accountsBase(config.REDIS_PREFIX)))
      : new RedisAccountStore(link, config.REDIS_PREFIX),
    moderation: new RedisModerationStore(link, config.REDIS_PREFIX),
    rooms: archive
      ? new SqlRoomStore(archive)
      : new RedisRoomStore(link, config.REDIS_PREFIX, config.ROOM_IDLE_TTL * 1000),
    redis: { kind: target.kind, link },
    storedRooms: () => undefined,
    archive,
    search: carried && ((ask) => carried.search(ask)),
    archiveLag: () => carrier?.lag,
    retention,
  };
}
