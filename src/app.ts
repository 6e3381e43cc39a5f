import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Broker } from "./bus/broker.js";
import { type HistoryLimits, MemoryBroker } from "./bus/memory-broker.js";
import { RedisBroker } from "./bus/redis-broker.js";
import { RedisKeys } from "./bus/redis-keys.js";
import { RedisLink } from "./bus/redis-link.js";
import * as frames from "./chat/frames.js";
import { Hub } from "./chat/hub.js";
import { type ChatContext, Session } from "./chat/session.js";
import type { Config } from "./config.js";
import { createHttpApp, finishHttpApp } from "./http/routes.js";
import { MemoryPresence } from "./storage/memory-presence.js";
import type { Member, Presence } from "./storage/presence.js";
import { RedisPresence } from "./storage/redis-presence.js";
import { installSockjs, type Peer } from "./transport/sockjs-endpoint.js";

export interface ChatServer {
  readonly nodeId: string;
  readonly port: number;
  close(): Promise<void>;
}

interface Backends {
  broker: Broker;
  presence: Presence;
  kind: "memory" | "redis";
  /** Runs once the hub is listening to the broker. */
  start(): Promise<void>;
}

function historyLimits(config: Config): HistoryLimits {
  return { size: config.HISTORY_SIZE, maxAgeMs: config.HISTORY_MAX_AGE * 1000 };
}

function embeddedBackends(config: Config): Backends {
  return {
    broker: new MemoryBroker(config.NODE_ID, historyLimits(config)),
    presence: new MemoryPresence(),
    kind: "memory",
    start: async () => undefined,
  };
}

function redisBackends(config: Config, url: string, log: Logger, onReaped: (room: string, gone: Member[]) => void) {
  const link = new RedisLink({ url, connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT }, log);
  const keys = new RedisKeys(config.REDIS_PREFIX);
  const presence = new RedisPresence(
    link,
    keys,
    { nodeId: config.NODE_ID, ttlMs: config.PRESENCE_TTL * 1000, onReaped },
    log,
  );
  const backends: Backends = {
    broker: new RedisBroker(config.NODE_ID, link, keys, historyLimits(config), log),
    presence,
    kind: "redis",
    start: () => presence.start(),
  };
  return backends;
}

/** `?lobby=0` on the SockJS URL: the client will join its rooms itself (with `since`, after a reconnect). */
function wantsLobby(url: string | undefined): boolean {
  const query = url?.split("?")[1];
  return new URLSearchParams(query ?? "").get("lobby") !== "0";
}

export async function startChatServer(config: Config, log: Logger): Promise<ChatServer> {
  let hub: Hub | undefined;
  const announceGone = (room: string, gone: Member[]) => {
    for (const m of gone) void hub?.publish(room, frames.userLeft(room, m));
  };
  const backends = config.REDIS_URL
    ? redisBackends(config, config.REDIS_URL, log, announceGone)
    : embeddedBackends(config);
  const { broker, presence } = backends;
  hub = new Hub(broker, log);
  await broker.start(hub);
  await backends.start();

  const ctx: ChatContext = {
    hub,
    broker,
    presence,
    log,
    limits: {
      maxMessageLength: config.MAX_MESSAGE_LENGTH,
      maxNameLength: config.MAX_NAME_LENGTH,
      maxRoomLength: config.MAX_ROOM_LENGTH,
    },
    historySize: config.HISTORY_SIZE,
  };

  const app = createHttpApp({
    nodeId: config.NODE_ID,
    ready: () => broker.isUp(),
    connections: () => hub.connectionCount,
  });
  const server = http.createServer(app);
  installSockjs(server, log, (peer: Peer) => {
    const session = new Session(peer, ctx);
    log.info({ conn: session.id, transport: peer.transport, addr: peer.remoteAddress }, "connection opened");
    peer.onClose(() => log.info({ conn: session.id }, "connection closed"));
    session.open(wantsLobby(peer.url));
  });
  finishHttpApp(app);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ node: config.NODE_ID, port, host: config.HOST, bus: backends.kind }, "chat server listening");

  return {
    nodeId: config.NODE_ID,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await presence.close();
      await broker.close();
    },
  };
}
