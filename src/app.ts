import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Broker } from "./bus/broker.js";
import { MemoryBroker } from "./bus/memory-broker.js";
import { Hub } from "./chat/hub.js";
import { type ChatContext, Session } from "./chat/session.js";
import type { Config } from "./config.js";
import { createHttpApp, finishHttpApp } from "./http/routes.js";
import { MemoryPresence } from "./storage/memory-presence.js";
import type { Presence } from "./storage/presence.js";
import { installSockjs, type Peer } from "./transport/sockjs-endpoint.js";

export interface ChatServer {
  readonly nodeId: string;
  readonly port: number;
  close(): Promise<void>;
}

interface Backends {
  broker: Broker;
  presence: Presence;
}

function embeddedBackends(config: Config): Backends {
  return {
    broker: new MemoryBroker(config.NODE_ID, { size: config.HISTORY_SIZE, maxAgeMs: config.HISTORY_MAX_AGE * 1000 }),
    presence: new MemoryPresence(),
  };
}

/** `?lobby=0` on the SockJS URL: the client will join its rooms itself (with `since`, after a reconnect). */
function wantsLobby(url: string | undefined): boolean {
  const query = url?.split("?")[1];
  return new URLSearchParams(query ?? "").get("lobby") !== "0";
}

export async function startChatServer(config: Config, log: Logger): Promise<ChatServer> {
  const { broker, presence } = embeddedBackends(config);
  const hub = new Hub(broker, log);
  await broker.start(hub);

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
  log.info({ node: config.NODE_ID, port, host: config.HOST, bus: "memory" }, "chat server listening");

  return {
    nodeId: config.NODE_ID,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await broker.close();
      await presence.close();
    },
  };
}
