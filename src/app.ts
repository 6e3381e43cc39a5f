import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "pino";
import type { Broker } from "./bus/broker.js";
import { type HistoryLimits, MemoryBroker } from "./bus/memory-broker.js";
import { RedisBroker } from "./bus/redis-broker.js";
import { RedisKeys } from "./bus/redis-keys.js";
import { RedisLink, type RedisTarget } from "./bus/redis-link.js";
import { tokenVerifier } from "./chat/auth.js";
import { CloseCode } from "./chat/close-codes.js";
import * as frames from "./chat/frames.js";
import { HistoryPages } from "./chat/history-pages.js";
import { Hub } from "./chat/hub.js";
import type { Limits } from "./chat/protocol.js";
import { type ChatContext, Session } from "./chat/session.js";
import type { Config } from "./config.js";
import { createHttpApp, finishHttpApp, SOCKJS_CLIENT_PATH } from "./http/routes.js";
import { createMetrics } from "./metrics.js";
import { MemoryPresence } from "./storage/memory-presence.js";
import type { Member, Presence } from "./storage/presence.js";
import { RedisPresence } from "./storage/redis-presence.js";
import { clientAddress } from "./transport/client-address.js";
import { OriginPolicy } from "./transport/origin-policy.js";
import { OutFrame } from "./transport/out-frame.js";
import type { Peer } from "./transport/peer.js";
import { attachSockjs, SOCKJS_DEFAULTS, SockjsServer } from "./transport/sockjs-server.js";

export interface ChatServer {
  readonly nodeId: string;
  readonly port: number;
  /** Graceful: no new connections, clients told to reconnect elsewhere, departures announced, Redis closed. */
  close(): Promise<void>;
}

interface Backends {
  broker: Broker;
  presence: Presence;
  link: RedisLink | undefined;
  /** Runs once the hub is listening to the broker. */
  start(): Promise<void>;
}

function historyLimits(config: Config): HistoryLimits {
  return {
    size: config.HISTORY_SIZE,
    maxAgeMs: config.HISTORY_MAX_AGE * 1000,
    // A room older than its messages' age limit has nothing left worth keeping.
    idleMs:
      (config.HISTORY_MAX_AGE > 0 ? Math.min(config.ROOM_IDLE_TTL, config.HISTORY_MAX_AGE) : config.ROOM_IDLE_TTL) *
      1000,
  };
}

function embeddedBackends(config: Config): Backends {
  return {
    broker: new MemoryBroker(config.NODE_ID, historyLimits(config)),
    presence: new MemoryPresence(),
    link: undefined,
    start: async () => undefined,
  };
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

function redisBackends(
  config: Config,
  target: RedisTarget,
  log: Logger,
  onReaped: (room: string, gone: Member[]) => void,
): Backends {
  const link = new RedisLink({ target, connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT }, log);
  const keys = new RedisKeys(config.REDIS_PREFIX);
  const presence = new RedisPresence(
    link,
    keys,
    { nodeId: config.NODE_ID, ttlMs: config.PRESENCE_TTL * 1000, onReaped },
    log,
  );
  return {
    // Behind Sentinel a message must reach the replica before anyone sees it, or a failover could lose it.
    broker: new RedisBroker(config.NODE_ID, link, keys, historyLimits(config), log, target.kind === "sentinel" ? 1 : 0),
    presence,
    link,
    start: () => presence.start(),
  };
}

const SOCK_PREFIX = "/sock";

/** `?lobby=0` on the SockJS URL: the client will join its rooms itself (with `since`, after a reconnect). */
function wantsLobby(query: string): boolean {
  return new URLSearchParams(query).get("lobby") !== "0";
}

/** Counts open connections per client address. */
class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for the address, or returns false when it has none left. */
  acquire(address: string): boolean {
    const n = this.counts.get(address) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.counts.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.counts.get(address) ?? 1) - 1;
    if (n <= 0) this.counts.delete(address);
    else this.counts.set(address, n);
  }
}

export async function startChatServer(config: Config, log: Logger): Promise<ChatServer> {
  let announceGone = (_room: string, _gone: Member[]) => {};
  const target = redisTarget(config);
  const backends = target
    ? redisBackends(config, target, log, (room, gone) => announceGone(room, gone))
    : embeddedBackends(config);
  const { broker, presence, link } = backends;
  const hub = new Hub(broker, log, config.MAX_ROOMS_PER_NODE);
  announceGone = (room, gone) => {
    for (const m of gone) {
      hub.publish(room, frames.userLeft(room, m)).catch((err: unknown) => {
        log.warn({ err, room }, "could not announce that a dead node's user left");
      });
    }
  };
  await broker.start(hub);
  await backends.start();

  const sessions = new Set<Session>();
  const perAddress = new AddressCounter(config.MAX_CONNECTIONS_PER_IP);
  const metrics = createMetrics({
    connectionsByTransport: () => {
      const counts = new Map<string, number>();
      for (const { transport } of sessions) counts.set(transport, (counts.get(transport) ?? 0) + 1);
      return counts;
    },
    redisUp: () => link?.isUp,
    roomsHere: () => hub.roomCount,
    roomsStored: () => (broker instanceof MemoryBroker ? broker.storedRooms : undefined),
  });
  const limits: Limits = {
    maxMessageLength: config.MAX_MESSAGE_LENGTH,
    maxNameLength: config.MAX_NAME_LENGTH,
    maxRoomLength: config.MAX_ROOM_LENGTH,
  };
  const ctx: ChatContext = {
    hub,
    broker,
    presence,
    log,
    limits,
    historySize: config.HISTORY_SIZE,
    metrics,
    policy: {
      rateLimit: config.RATE_LIMIT,
      rateBurst: config.RATE_BURST,
      floodCloseAfter: config.FLOOD_CLOSE_AFTER,
      maxRooms: config.MAX_ROOMS_PER_CONNECTION,
    },
    authenticate: config.AUTH_SECRET
      ? tokenVerifier(config.AUTH_SECRET, limits, config.AUTH_MAX_TOKEN_LIFETIME)
      : undefined,
    pages: new HistoryPages(),
    ended: (session) => {
      perAddress.release(session.clientAddress);
      log.info({ conn: session.id }, "connection closed");
      void session.settled.finally(() => sessions.delete(session));
    },
  };

  const app = createHttpApp({
    nodeId: config.NODE_ID,
    ready: () => broker.isUp(),
    connections: () => sessions.size,
    metrics: metrics.registry,
  });
  const server = http.createServer();
  // Upgraded (websocket) sockets leave the HTTP server's books; shutdown must still end them.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  let draining = false;

  const onPeer = (peer: Peer) => {
    if (draining) {
      peer.close(CloseCode.shuttingDown, "Server shutting down");
      return;
    }
    if (!perAddress.acquire(peer.clientAddress)) {
      metrics.refused("too_many_connections");
      log.info({ code: "too_many_connections", addr: peer.clientAddress }, "connection refused");
      peer.send(
        new OutFrame(frames.error("too_many_connections", "too many connections from your address", undefined)),
      );
      peer.close(CloseCode.tooManyConnections, "Too many connections");
      return;
    }
    const session = new Session(peer, ctx);
    sessions.add(session);
    log.info({ conn: session.id, transport: peer.transport, addr: peer.clientAddress }, "connection opened");
    void session.open(wantsLobby(peer.query));
  };
  const origins = new OriginPolicy(config.ALLOWED_ORIGINS);
  const sockjs = new SockjsServer(
    {
      ...SOCKJS_DEFAULTS,
      prefix: SOCK_PREFIX,
      sockjsUrl: SOCKJS_CLIENT_PATH,
      heartbeatMs: config.HEARTBEAT_INTERVAL,
      maxMessageBytes: config.MAX_FRAME_BYTES,
      maxPendingBytes: config.MAX_PENDING_BYTES,
      frameAncestors: origins.frameAncestors,
      allowRequest: (req) => origins.allows(req),
      clientAddress: (req) => clientAddress(req, config.TRUST_PROXY),
      log,
    },
    onPeer,
  );
  finishHttpApp(app);
  attachSockjs(server, [sockjs], app);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ node: config.NODE_ID, port, host: config.HOST, bus: target?.kind ?? "memory" }, "chat server listening");

  return {
    nodeId: config.NODE_ID,
    port,
    async close() {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const open = [...sessions];
      log.info({ connections: open.length }, "closing connections");
      for (const session of open) session.close(CloseCode.shuttingDown, "Server shutting down");
      // Each session announces its departure to the other nodes as it goes.
      await Promise.allSettled(open.map((s) => s.settled));
      sockjs.close(CloseCode.shuttingDown, "Server shutting down");
      server.closeAllConnections();
      for (const socket of sockets) {
        // A clean end lets the close frames out; a peer that never answers is cut off after a second.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      await closed;
      await presence.close();
      await broker.close();
    },
  };
}
