import { createPublicKey, randomBytes } from "node:crypto";
import { z } from "zod";

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const hostPorts = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^[^\s:,]+:\d{1,5}$/, "host:port,host:port")
          .transform((hp) => {
            const i = hp.lastIndexOf(":");
            return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
          }),
      )
      .min(1, "host:port,host:port"),
  );

function isPublicKey(pem: string): boolean {
  try {
    return /-----BEGIN PUBLIC KEY-----/.test(pem) && createPublicKey(pem).type === "public";
  } catch {
    return false;
  }
}

/** One row per variable: the schema validates it, `help` documents it in `--help` and the README. */
const spec = {
  PORT: { schema: int(3000, 0, 65535), help: "HTTP port (0 picks a free one)" },
  HOST: { schema: z.string().min(1).default("0.0.0.0"), help: "address to listen on" },
  LISTEN_BACKLOG: {
    schema: int(511, 1, 65_535),
    help: "connections the kernel queues for the node to accept (capped by net.core.somaxconn)",
  },
  METRICS_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).optional(),
    help: "port of GET /metrics, apart from the chat's (0 picks a free one); unset = not served",
  },
  METRICS_HOST: {
    schema: z.string().min(1).default("127.0.0.1"),
    help: "address the metrics port listens on: keep it off the public network",
  },
  REDIS_URL: {
    schema: z
      .string()
      .regex(/^rediss?:\/\/.+/, "must be a redis:// or rediss:// URL")
      .optional(),
    help: "Redis to scale out through; unset = one process, keeping everything in its archive",
  },
  DATABASE_URL: {
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, "must be a postgres:// or postgresql:// URL")
      .optional(),
    help: "PostgreSQL to keep every message in (and, alone, rooms and users); with Redis, messages are carried there; unset = the embedded archive in DATA_DIR",
  },
  DATA_DIR: {
    schema: z.string().min(1).default("./data"),
    help: "folder of the embedded archive (SQLite), when neither Redis nor DATABASE_URL is set",
  },
  RETENTION_DAYS: {
    schema: int(0, 0, 36_500),
    help: "days the archive keeps a message before purging it (0 = forever)",
  },
  REDIS_CLUSTER_NODES: {
    schema: z
      .string()
      .transform((v) => v.replace(/^redis-cluster:\/\//, ""))
      .pipe(hostPorts)
      .optional(),
    help: "Redis Cluster seeds, host:port,host:port (or redis-cluster://host:port,...); rooms use sharded Pub/Sub",
  },
  REDIS_SENTINELS: {
    schema: hostPorts.optional(),
    help: "Sentinels watching a primary/replica pair, host:port,host:port",
  },
  REDIS_SENTINEL_NAME: { schema: z.string().min(1).default("mymaster"), help: "the primary's name in Sentinel" },
  REDIS_PASSWORD: {
    schema: z.string().min(1).optional(),
    help: "password for REDIS_CLUSTER_NODES or REDIS_SENTINELS (REDIS_URL carries its own)",
  },
  REDIS_PREFIX: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,32}$/, "1-32 of A-Z a-z 0-9 _ . : -")
      .default("chat"),
    help: "prefix of every Redis key and channel",
  },
  REDIS_CONNECT_TIMEOUT: { schema: int(5000, 100, 120000), help: "ms to reach Redis at start before exiting" },
  NODE_ID: {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, "1-32 of A-Z a-z 0-9 _ -")
      .default(() => randomBytes(4).toString("hex")),
    help: "this process's id among the nodes",
  },
  PRESENCE_TTL: { schema: int(15, 2, 300), help: "seconds after which a silent node's users are dropped" },
  PRESENCE_GRACE: {
    schema: int(15, 0, 300),
    help: "seconds the last connection of a user who can come back (a token's, a proto=2 guest's) may be gone before the rooms hear they left (a reload, a node restart); a proto 1 guest leaves at once",
  },
  PRESENCE_BIG_ROOM: {
    schema: int(200, 2, 10_000_000),
    help: "users in a room from which arrivals and departures are counted, not announced one by one",
  },
  LOG_LEVEL: {
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    help: "pino log level",
  },
  MAX_MESSAGE_LENGTH: { schema: int(4000, 1, 1_000_000), help: "characters in one chat message" },
  MAX_MESSAGE_BYTES: {
    schema: int(16_384, 1, 16_000_000),
    help: "bytes one chat message takes stored (UTF-8, as JSON)",
  },
  MAX_NAME_LENGTH: { schema: int(32, 1, 256), help: "characters in a nickname" },
  MAX_ROOM_LENGTH: { schema: int(32, 1, 256), help: "characters in a room name" },
  HISTORY_SIZE: {
    schema: int(100, 0, 100_000),
    help: "messages a join is sent; with Redis, also the window kept per room (the archive keeps all)",
  },
  RECOVERY_MAX: {
    schema: int(1000, 1, 100_000),
    help: "messages a join with since replays at most, in history frames of 100; past it the newest are sent, recovered: false",
  },
  HISTORY_MAX_AGE: { schema: int(0, 0, 31_536_000), help: "seconds a stored message is kept (0 = no limit)" },
  ROOM_IDLE_TTL: {
    schema: int(86_400, 1, 31_536_000),
    help: "with Redis: seconds after which a room nobody used is forgotten, history and all, within a tenth of it more (at most a minute) (conversations: USER_IDLE_TTL)",
  },
  RATE_LIMIT: { schema: int(20, 0, 1_000_000), help: "requests per second per connection, sustained (0 = no limit)" },
  RATE_BURST: { schema: int(40, 1, 1_000_000), help: "requests a connection may send at once before the rate applies" },
  FLOOD_CLOSE_AFTER: {
    schema: int(20, 1, 1_000_000),
    help: "rate-limited requests within 10 s after which the connection is closed",
  },
  WRITE_BYTES_PER_USER: {
    schema: int(262_144, 0, 1_073_741_824),
    help: "bytes a user may have stored per minute, messages and rooms joined (0 = no limit)",
  },
  WRITE_BYTES_PER_IP: {
    schema: int(1_048_576, 0, 1_073_741_824),
    help: "bytes the users of one client address may have stored per minute (0 = no limit)",
  },
  NEW_ROOMS_PER_HOUR: {
    schema: int(30, 0, 1_000_000),
    help: "rooms a user may start (write the first message in) per hour (0 = no limit)",
  },
  NEW_CONVERSATIONS_PER_HOUR: {
    schema: int(30, 0, 1_000_000),
    help: "conversations a user may start (send the first direct message in) per hour (0 = no limit)",
  },
  FIRST_DMS_PER_RECIPIENT: {
    schema: int(10, 0, 1_000_000),
    help: "direct messages per minute a user may get from people they never talked to (0 = no limit)",
  },
  REPORTS_PER_HOUR: {
    schema: int(20, 1, 1_000_000),
    help: "messages a user may report to a room's moderators per hour, over all rooms",
  },
  MAX_ROOMS_PER_CONNECTION: { schema: int(20, 1, 10_000), help: "rooms one connection may be in at once" },
  MAX_ROOMS_PER_USER: {
    schema: int(50, 1, 100_000),
    help: "rooms a user (a token's, a proto=2 guest's) may be kept in, over all their connections",
  },
  MAX_ROOMS_CREATED: {
    schema: int(10, 0, 100_000),
    help: "rooms one user may have created (room_create), over all time while they exist",
  },
  MAX_INVITATIONS: {
    schema: int(100, 1, 100_000),
    help: "invitations and invitation links into one room not yet spent or expired",
  },
  ROOM_NAME_LENGTH: { schema: int(64, 1, 256), help: "characters in a room's display name" },
  ROOM_TOPIC_LENGTH: { schema: int(300, 0, 4096), help: "characters in a room's topic" },
  MAX_ROOMS_PER_NODE: {
    schema: int(10_000, 1, 10_000_000),
    help: "rooms with members on one node at once",
  },
  MAX_CONNECTIONS_PER_IP: {
    schema: int(100, 0, 1_000_000),
    help: "open connections per client address, and as many send requests being read (0 = no limit)",
  },
  NEW_GUESTS_PER_IP: {
    schema: int(60, 0, 1_000_000),
    help: "new guest identities one client address may be given per hour (0 = no limit)",
  },
  TRUST_PROXY: {
    schema: z
      .string()
      .regex(/^(true|false|[0-9])$/, "true, false, or how many proxies (0-9) stand in front")
      .default("false")
      .transform((v) => (v === "true" ? 1 : v === "false" ? 0 : Number(v))),
    help: "proxies you run in front (true = 1): the client is the address the outermost one saw in X-Forwarded-For",
  },
  MAX_FRAME_BYTES: {
    schema: int(65_536, 1024, 16_777_216),
    help: "bytes in one incoming SockJS frame or request body",
  },
  MAX_PENDING_BYTES: {
    schema: int(4_194_304, 65_536, 1_073_741_824),
    help: "unsent bytes a connection may hold before it is closed as a slow consumer",
  },
  SEND_TIMEOUT: {
    schema: int(5_000, 100, 600_000),
    help: "ms an xhr_send or jsonp_send request may take to deliver its body",
  },
  HEADERS_TIMEOUT: {
    schema: int(10_000, 1_000, 600_000),
    help: "ms a client may take to send a request's headers",
  },
  ALLOWED_ORIGINS: {
    schema: z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, "comma-separated origins like https://chat.example.com")))
      .optional(),
    help: "origins whose pages may connect, comma-separated (unset = any origin)",
  },
  AUTH_MAX_TOKEN_LIFETIME: {
    schema: int(86_400, 60, 31_536_000),
    help: "seconds a token may be valid for, from its iat (or from now); tokens must carry exp",
  },
  AUTH_SECRET: {
    schema: z.string().min(32, "must be at least 32 characters").optional(),
    help: "HS256 secret of an embedding app's tokens (JWT: sub, name, exp), sent in the first frame (or ?token=)",
  },
  AUTH_PUBLIC_KEY: {
    schema: z
      .string()
      // An env file holds one line: its newlines may come as \n.
      .transform((v) => v.replace(/\\n/g, "\n"))
      .refine(isPublicKey, "must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
      .optional(),
    help: "an embedding app's public key (PEM) its tokens are signed for (RS256, ES256, EdDSA), instead of AUTH_SECRET",
  },
  AUTH_JWKS_URL: {
    schema: z
      .string()
      .regex(/^https?:\/\/.+/, "must be an http(s) URL")
      .optional(),
    help: "where an embedding app publishes its public keys (JWKS), instead of AUTH_SECRET or AUTH_PUBLIC_KEY",
  },
  AUTH_TOKEN_URL: {
    schema: z
      .string()
      .regex(/^https?:\/\/.+/, "must be an http(s) URL")
      .optional(),
    help: "the embedding app's endpoint the web client gets its token from, with the browser's cookies",
  },
  OIDC_ISSUER: {
    schema: z.string().refine(isOidcIssuer, "must be an https URL (http only on a loopback address)").optional(),
    help: "the OpenID Connect provider people may sign in through (its issuer URL); set with OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URL",
  },
  OIDC_CLIENT_ID: {
    schema: z.string().optional(),
    help: "this chat's client id at the OpenID Connect provider",
  },
  OIDC_CLIENT_SECRET: {
    schema: z.string().optional(),
    help: "this chat's client secret at the OpenID Connect provider",
  },
  OIDC_REDIRECT_URL: {
    schema: z
      .string()
      .regex(/^https?:\/\/[^/]+\/auth\/oidc\/callback$/, "must be this chat's http(s)://HOST/auth/oidc/callback")
      .optional(),
    help: "the chat's own /auth/oidc/callback address, as registered at the provider",
  },
  OIDC_PROVIDER_NAME: {
    schema: z.string().trim().min(1).max(40).optional(),
    help: "what the sign-in button calls the OpenID Connect provider (Continue with NAME); unset = the host of OIDC_ISSUER",
  },
  GUESTS: {
    schema: z.enum(["0", "1"]).optional(),
    help: "1 = people may chat as guests, without an account or token; unset = 1 unless a token key (AUTH_SECRET, AUTH_PUBLIC_KEY, AUTH_JWKS_URL) or OIDC_ISSUER is set or SIGNUP is open or invite",
  },
  SIGNUP: {
    schema: z.enum(["open", "invite", "closed"]).default("closed"),
    help: "who may make an account: anyone (open), those with an admin's invitation (invite), nobody (closed: admins make them)",
  },
  ADMIN_USERS: {
    schema: z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((n) => n.trim())
          .filter(Boolean),
      )
      .optional(),
    help: "account names that are admins, comma-separated (also: npm run admin -- create-admin NAME)",
  },
  PASSWORD_PEPPER: {
    schema: z.string().min(32, "must be at least 32 characters").optional(),
    help: "secret mixed into every password hash, kept apart from the database; set it before the first account",
  },
  SESSION_TTL: {
    schema: int(2_592_000, 300, 31_536_000),
    help: "seconds a sign-in lasts (the session cookie), unless signed out first",
  },
  SIGNIN_ATTEMPTS_PER_ACCOUNT: {
    schema: int(10, 1, 1_000_000),
    help: "failed sign-ins one account may be tried with per SIGNIN_WINDOW",
  },
  SIGNIN_ATTEMPTS_PER_IP: {
    schema: int(100, 1, 1_000_000),
    help: "failed sign-ins one client address may make per SIGNIN_WINDOW",
  },
  SIGNIN_WINDOW: {
    schema: int(900, 1, 86_400),
    help: "seconds in which sign-in failures are counted; past a limit, the rest of the window is refused",
  },
  GUEST_SECRET: {
    schema: z.string().min(32, "must be at least 32 characters").optional(),
    help: "HS256 secret for guest identities; unset = one made once and kept in Redis or the archive",
  },
  USER_IDLE_TTL: {
    schema: int(2_592_000, 1, 315_360_000),
    help: "seconds a user's rooms, conversations and read state are kept after their last connection",
  },
  MAX_CONVERSATIONS_PER_CONNECTION: {
    schema: int(100, 1, 10_000),
    help: "conversations (direct messages) one connection may have open at once",
  },
  HEARTBEAT_INTERVAL: {
    schema: int(25_000, 100, 600_000),
    help: "ms between heartbeats on every connection; one silent for two is dropped",
  },
  SHUTDOWN_TIMEOUT: {
    schema: int(10_000, 100, 600_000),
    help: "ms a graceful shutdown may take before the process exits anyway",
  },
  QUIET_GC_MB: {
    schema: int(8, 0, 65_536),
    help: "MiB V8's heap outside the young generation may grow by before a node gone quiet asks V8 for a full collection; a node gone quiet also gives back a grown young generation (0 = neither)",
  },
  YOUNG_GC_PERCENT: {
    schema: int(10, 0, 100),
    help: "% of its time a node may spend in young-generation collections before V8 may grow that generation (0 = V8 sizes it alone, as Node does)",
  },
} as const;

type Spec = typeof spec;
export type Config = { [K in keyof Spec]: z.output<Spec[K]["schema"]> };

/** Tokens from a provider reached over plain HTTP could be forged on the way, unless it is on this machine. */
function isOidcIssuer(v: string): boolean {
  try {
    const url = new URL(v);
    return (
      url.protocol === "https:" ||
      (url.protocol === "http:" && /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname))
    );
  } catch {
    return false;
  }
}

export class ConfigError extends Error {}

/** A refused value as the operator may see it: a password (in a URL or on its own) is never repeated. */
function redacted(key: string, raw: string | undefined): string {
  if (raw !== undefined && /PASSWORD|SECRET/.test(key)) return "(hidden)";
  return JSON.stringify(raw?.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@"));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, { schema }] of Object.entries(spec)) {
    const raw = env[key] === "" ? undefined : env[key];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues[0]?.message ?? "invalid";
      throw new ConfigError(`${key}=${redacted(key, raw)}: ${why}`);
    }
    out[key] = parsed.data;
  }
  const config = out as Config;
  const redisModes = [config.REDIS_URL, config.REDIS_CLUSTER_NODES, config.REDIS_SENTINELS].filter(
    (v) => v !== undefined,
  );
  if (redisModes.length > 1) {
    throw new ConfigError("set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS");
  }
  const keys = [config.AUTH_SECRET, config.AUTH_PUBLIC_KEY, config.AUTH_JWKS_URL].filter((v) => v !== undefined);
  if (keys.length > 1) throw new ConfigError("set only one of AUTH_SECRET, AUTH_PUBLIC_KEY and AUTH_JWKS_URL");
  const oidc = [config.OIDC_ISSUER, config.OIDC_CLIENT_ID, config.OIDC_CLIENT_SECRET, config.OIDC_REDIRECT_URL];
  if (oidc.some((v) => v !== undefined) && !oidc.every((v) => v !== undefined)) {
    throw new ConfigError("set all of OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URL, or none");
  }
  if (config.OIDC_PROVIDER_NAME !== undefined && config.OIDC_ISSUER === undefined) {
    throw new ConfigError("OIDC_PROVIDER_NAME names the provider of OIDC_ISSUER: set that too, or neither");
  }
  if (config.GUESTS === undefined) {
    // Guests are the way in only while no other is configured.
    const tokens = [config.AUTH_SECRET, config.AUTH_PUBLIC_KEY, config.AUTH_JWKS_URL].some((v) => v !== undefined);
    const otherWay = tokens || config.SIGNUP !== "closed" || config.OIDC_ISSUER !== undefined;
    return { ...config, GUESTS: otherWay ? "0" : "1" };
  }
  return config;
}

export function configHelp(): string {
  const rows = Object.entries(spec).map(([key, { schema, help }]) => {
    const def = (schema as z.ZodType).safeParse(undefined);
    const shown = key === "NODE_ID" ? "random" : def.success && def.data !== undefined ? String(def.data) : "unset";
    return `  ${key.padEnd(26)} ${help} (default: ${shown})`;
  });
  return ["Usage: node dist/server.js", "", "Configuration comes from environment variables:", ...rows, ""].join("\n");
}
