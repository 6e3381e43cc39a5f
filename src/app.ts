import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "pino";
import { accountSettings, clientLimits } from "./account-settings.js";
import { Accounts } from "./accounts/accounts.js";
import { OidcSignIn } from "./accounts/oidc.js";
import { retentionCutoff } from "./archive/retention.js";
import { createBackends } from "./backends.js";
import { Allowances } from "./chat/allowances.js";
import { type TokenKeys, tokenVerifier } from "./chat/auth.js";
import { ChatNode } from "./chat/chat-node.js";
import type { ChatContext } from "./chat/context.js";
import * as frames from "./chat/frames.js";
import { GuestIdentities } from "./chat/guests.js";
import { HistoryPages } from "./chat/history-pages.js";
import { Hub } from "./chat/hub.js";
import { Moderation } from "./chat/moderation.js";
import { implicitRoom, RoomRules } from "./chat/room-rules.js";
import { SearchTurns } from "./chat/search-turns.js";
import { keepConnectedUsers } from "./chat/user-upkeep.js";
import type { Config } from "./config.js";
import { addAccountRoutes } from "./http/account-routes.js";
import { startMetricsServer } from "./http/metrics-server.js";
import { createHttpApp, finishHttpApp, SOCKJS_CLIENT_PATH } from "./http/routes.js";
import { createMetrics } from "./metrics.js";
import { CloseCode } from "./protocol/close-codes.js";
import { DEFAULT_ROOM } from "./protocol/rules.js";
import { startQuietCollector } from "./quiet-collector.js";
import { clientAddress } from "./transport/client-address.js";
import { OriginPolicy } from "./transport/origin-policy.js";
import { attachSockjs, SOCKJS_DEFAULTS, SockjsServer } from "./transport/sockjs-server.js";
import { collectorFunction, startYoungGeneration } from "./young-generation.js";

export interface ChatServer {
  readonly nodeId: string;
  readonly port: number;
  /** Graceful: no new connections, clients told to reconnect elsewhere, departures announced, Redis and the archive closed. */
  close(): Promise<void>;
}

const SOCK_PREFIX = "/sock";
/** How long a `?auth=first` connection may take to send its first frame: a page that opened it sends it at once. */
const FIRST_FRAME_MS = 10_000;

/** Whether the browser came over TLS: to us, or to the outermost of the proxies TRUST_PROXY trusts. */
function isTls(req: http.IncomingMessage, trustedProxies: number): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const forwarded = req.headers["x-forwarded-proto"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim();
  return trustedProxies > 0 && first === "https";
}

/** Puts one server process together: backends, hub, chat node, HTTP routes and the SockJS endpoint. */
export async function startChatServer(config: Config, log: Logger): Promise<ChatServer> {
  const backends = await createBackends(config, log);
  const metrics = createMetrics({
    connectionsByTransport: () => node.connectionsByTransport(),
    redisUp: () => backends.redis?.link.isUp,
    roomsHere: () => hub.roomCount,
    roomsStored: () => backends.storedRooms(),
    archiveLag: () => backends.archiveLag(),
    quietCollections: () => collector.collections,
    quietScavenges: () => collector.scavenges,
    youngGrowingSeconds: () => young.growingSeconds,
  });
  const hub = new Hub(
    backends.broker,
    backends.presence,
    log,
    { maxRoomsHere: config.MAX_ROOMS_PER_NODE, bigRoom: config.PRESENCE_BIG_ROOM },
    metrics,
  );
  await hub.start();
  const roomRules = new RoomRules(backends.rooms, log);
  const moderation = new Moderation(backends.moderation, config.REPORTS_PER_HOUR);
  // A room's rules and its moderation are cached alike on each node, and go stale alike.
  hub.watchRules({
    changed: (room) => {
      roomRules.changed(room);
      moderation.forget(room);
    },
    forget: (room) => {
      roomRules.forget(room);
      moderation.forget(room);
    },
  });
  // The lobby is listed like any room; a store out of reach at start leaves it out of the directory, not the chat.
  void backends.rooms
    .create(
      {
        id: DEFAULT_ROOM,
        name: implicitRoom(DEFAULT_ROOM).name,
        topic: "",
        visibility: "public",
        creator: undefined,
        created: Date.now(),
        version: 0,
      },
      undefined,
    )
    .catch((err: unknown) => log.warn({ err }, "could not list the lobby in the room directory"));
  const young = startYoungGeneration(config.YOUNG_GC_PERCENT);
  const collector = startQuietCollector(config.QUIET_GC_MB * 2 ** 20, collectorFunction());
  const stopUpkeep = keepConnectedUsers(hub, backends.users, config.USER_IDLE_TTL * 1000);
  // Every node signs guests and sign-in tickets with one secret: GUEST_SECRET, or the one the user store keeps.
  const nodeSecret = config.GUEST_SECRET ?? (await backends.users.guestSecret());
  const guests = config.GUESTS === "1" ? new GuestIdentities(nodeSecret) : undefined;
  if (guests && !config.GUEST_SECRET) {
    // A Redis that lost its data (restarted without persistence) lost the secret too: each node
    // offers back the one it has, the first offer is kept and every node takes it, so guests
    // stay who they are on every node, instead of each node minting its own.
    backends.redis?.link.on("up", () => {
      backends.users.guestSecret(guests.secret).then(
        (kept) => {
          if (kept !== guests.secret) log.warn("took the guest secret another node put back into Redis");
          guests.rekey(kept);
        },
        (err: unknown) => log.warn({ err }, "could not check the guest secret in Redis"),
      );
    });
  }

  const limits = clientLimits(config);
  const allowances = new Allowances({
    bytesPerUser: config.WRITE_BYTES_PER_USER,
    bytesPerAddress: config.WRITE_BYTES_PER_IP,
    roomsPerHour: config.NEW_ROOMS_PER_HOUR,
    conversationsPerHour: config.NEW_CONVERSATIONS_PER_HOUR,
    guestsPerHour: config.NEW_GUESTS_PER_IP,
    firstDmsPerRecipient: config.FIRST_DMS_PER_RECIPIENT,
  });
  const tokenKeys: TokenKeys | undefined = config.AUTH_SECRET
    ? { kind: "secret", secret: config.AUTH_SECRET }
    : config.AUTH_PUBLIC_KEY
      ? { kind: "public", pem: config.AUTH_PUBLIC_KEY }
      : config.AUTH_JWKS_URL
        ? { kind: "jwks", url: config.AUTH_JWKS_URL }
        : undefined;
  const accounts = new Accounts(backends.accounts, accountSettings(config), nodeSecret);
  const { search } = backends;
  const ctx: ChatContext = {
    hub,
    users: backends.users,
    log,
    limits,
    historySize: config.HISTORY_SIZE,
    recoveryMax: config.RECOVERY_MAX,
    meter: metrics,
    policy: {
      rateLimit: config.RATE_LIMIT,
      rateBurst: config.RATE_BURST,
      floodCloseAfter: config.FLOOD_CLOSE_AFTER,
      maxRooms: config.MAX_ROOMS_PER_CONNECTION,
      maxRoomsPerUser: config.MAX_ROOMS_PER_USER,
      maxConversations: config.MAX_CONVERSATIONS_PER_CONNECTION,
    },
    allowances,
    authenticate: tokenKeys && tokenVerifier(tokenKeys, limits, config.AUTH_MAX_TOKEN_LIFETIME),
    guests,
    redeemTicket: (ticket) => accounts.redeemTicket(ticket),
    // Out of reach (Redis away), a guest's name is not held up: it still shows as a guest's, which no account's does.
    accountName: (name) =>
      accounts.nameTaken(name).catch((err: unknown) => {
        log.warn({ err }, "could not check a name against the accounts");
        return false;
      }),
    firstFrameMs: FIRST_FRAME_MS,
    graceMs: config.PRESENCE_GRACE * 1000,
    pages: new HistoryPages(),
    searchTurns: new SearchTurns(),
    moderation,
    rooms: roomRules,
    roomPolicy: {
      maxCreated: config.MAX_ROOMS_CREATED,
      maxInvitations: config.MAX_INVITATIONS,
      maxRoomNameLength: config.ROOM_NAME_LENGTH,
      maxTopicLength: config.ROOM_TOPIC_LENGTH,
    },
    people: (q, after, limit) => accounts.people(q, after, limit),
    search: search && {
      // What RETENTION_DAYS let go of is never found, even before the hourly purge reaches it.
      search: (ask) => search({ ...ask, cutoff: retentionCutoff(config.RETENTION_DAYS) }),
    },
  };
  const node = new ChatNode(ctx, config.MAX_CONNECTIONS_PER_IP);

  const app = createHttpApp(
    {
      nodeId: config.NODE_ID,
      ready: () => hub.isUp(),
      connections: () => node.connections,
      archive: () => backends.archiveLag(),
    },
    // The page fetches its token from the embedding app: its origin must be one the page may reach.
    config.AUTH_TOKEN_URL ? [new URL(config.AUTH_TOKEN_URL).origin] : [],
  );
  addAccountRoutes(app, {
    accounts,
    log,
    guests: guests !== undefined,
    tokenUrl: config.AUTH_TOKEN_URL,
    oidc:
      config.OIDC_ISSUER && config.OIDC_CLIENT_ID && config.OIDC_CLIENT_SECRET && config.OIDC_REDIRECT_URL
        ? new OidcSignIn(
            {
              issuer: config.OIDC_ISSUER,
              clientId: config.OIDC_CLIENT_ID,
              clientSecret: config.OIDC_CLIENT_SECRET,
              redirectUrl: config.OIDC_REDIRECT_URL,
              name: config.OIDC_PROVIDER_NAME,
            },
            nodeSecret,
          )
        : undefined,
    address: (req) => clientAddress(req, config.TRUST_PROXY),
    secure: (req) => isTls(req, config.TRUST_PROXY),
    profileChanged: (profile) => {
      // Those who have a conversation with the account show it by its profile too, room or no room.
      backends.users
        .load(profile.uid)
        .then(
          (record) => record.conversations.map((c) => c.uid),
          (err: unknown) => {
            log.warn({ err }, "could not read whom an account has conversations with");
            return [];
          },
        )
        .then((partners) => hub.aroundUser(profile.uid, frames.profile(profile), partners))
        .catch((err: unknown) => {
          log.warn({ err }, "could not tell the other nodes of a new profile");
        });
    },
    endConnections: (uid, session, why) => {
      const [code, reason] =
        why === "disabled" ? [CloseCode.accountDisabled, "Account disabled"] : [CloseCode.signedOut, "Signed out"];
      hub.endUser(uid, session, code, reason).catch((err: unknown) => {
        log.warn({ err }, "could not end a user's connections on the other nodes");
      });
    },
  });
  const server = http.createServer({
    headersTimeout: config.HEADERS_TIMEOUT,
    // Only the request itself: a streaming response lasts as long as it likes.
    requestTimeout: config.HEADERS_TIMEOUT + config.SEND_TIMEOUT,
    // Node checks both timeouts only this often (30 s unless told), which would stretch them.
    connectionsCheckingInterval: Math.min(1000, config.HEADERS_TIMEOUT),
  });
  // Upgraded (websocket) sockets leave the HTTP server's books; shutdown must still end them.
  const sockets = new Set<Socket>();
  // One listener for every socket (a socket closes once): a closure and a `once` wrapper per
  // connection would be some 200 bytes held for as long as it stays open.
  function forget(this: Socket): void {
    sockets.delete(this);
  }
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", forget);
  });
  const origins = new OriginPolicy(config.ALLOWED_ORIGINS);
  const sockjs = new SockjsServer(
    {
      ...SOCKJS_DEFAULTS,
      prefix: SOCK_PREFIX,
      sockjsUrl: SOCKJS_CLIENT_PATH,
      heartbeatMs: config.HEARTBEAT_INTERVAL,
      maxMessageBytes: config.MAX_FRAME_BYTES,
      sendTimeoutMs: config.SEND_TIMEOUT,
      maxPendingPerAddress: config.MAX_CONNECTIONS_PER_IP,
      maxPendingBytes: config.MAX_PENDING_BYTES,
      frameAncestors: origins.frameAncestors,
      allowRequest: (req) => origins.allows(req),
      clientAddress: (req) => clientAddress(req, config.TRUST_PROXY),
      countRefusal: (reason) => metrics.refusedRequest(reason),
      log,
    },
    (peer) => node.accept(peer),
  );
  finishHttpApp(app);
  attachSockjs(server, [sockjs], app);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: config.PORT, host: config.HOST, backlog: config.LISTEN_BACKLOG }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const metricsServer =
    config.METRICS_PORT === undefined
      ? undefined
      : await startMetricsServer(metrics.registry, config.METRICS_PORT, config.METRICS_HOST);
  if (metricsServer) log.info({ port: metricsServer.port, host: config.METRICS_HOST }, "metrics listening");
  const bus = backends.redis?.kind ?? "memory";
  log.info({ node: config.NODE_ID, port, host: config.HOST, bus }, "chat server listening");
  if (accounts.signup === "open") {
    accounts.unclaimedAdminNames().then(
      (names) => {
        if (names.length > 0)
          log.warn(
            { names },
            "SIGNUP=open: the first person to sign up with one of these ADMIN_USERS names becomes an admin; make them now with `npm run admin -- create-admin NAME`",
          );
      },
      (err: unknown) => log.warn({ err }, "could not check ADMIN_USERS against the accounts"),
    );
  }

  return {
    nodeId: config.NODE_ID,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await node.drain();
      sockjs.close(CloseCode.shuttingDown, "Server shutting down");
      server.closeAllConnections();
      for (const socket of sockets) {
        // A clean end lets the close frames out; a peer that never answers is cut off after a second.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      }
      await closed;
      await metricsServer?.close();
      stopUpkeep();
      collector.stop();
      young.stop();
      allowances.close();
      await hub.stop();
      await backends.users.close();
      await backends.accounts.close();
      await backends.retention?.stop();
      await backends.archive?.close();
    },
  };
}
