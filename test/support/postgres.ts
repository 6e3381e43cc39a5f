import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { stopChild, waitForLine } from "./child-process.js";
import { allocatePort } from "./ports.js";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";
const asRoot = process.getuid?.() === 0;

/** initdb and postgres refuse to run as root: there they run as the package's `postgres` user. */
function command(bin: string, args: string[]): [string, string[]] {
  const exe = path.join(BIN, bin);
  return asRoot ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", exe, ...args]] : [exe, args];
}

export interface PostgresProcess {
  readonly port: number;
  /** For DATABASE_URL: the `chat` database, as the superuser `chat`. */
  readonly url: string;
  /** A client to a database (`chat` by default), for reading rows directly; the caller ends it. */
  client(database?: string): Promise<pg.Client>;
  /** A fresh database in this cluster, for a test that wants one of its own. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it (fast shutdown: clients are cut off), and starts it again `ms` later. */
  stopFor(ms: number): Promise<void>;
  /** Stops it for good and removes its directory. */
  remove(): Promise<void>;
}

/**
 * A real PostgreSQL 15 cluster in a temporary directory, on a port of its
 * own and a unix socket inside that directory, with no password (trust on
 * loopback). The one way the tests start PostgreSQL.
 */
export async function startPostgres(): Promise<PostgresProcess> {
  let port = await allocatePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-pg-"));
  if (asRoot) chownSync(dir, Number((await run("id", ["-u", "postgres"])).stdout), 0);
  chmodSync(dir, 0o700);
  const data = path.join(dir, "data");
  await run(...command("initdb", ["-D", data, "-U", "chat", "--auth=trust", "-E", "UTF8", "--no-sync"]));
  let child: ChildProcess | undefined;
  const launch = async () => {
    const [exe, args] = command("postgres", [
      "-D",
      data,
      "-p",
      String(port),
      "-k",
      dir,
      "-c",
      "listen_addresses=127.0.0.1",
      // A test cluster: its data is thrown away, so durability buys nothing.
      "-c",
      "fsync=off",
      "-c",
      "full_page_writes=off",
    ]);
    const c = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
    await waitForLine(c, /ready to accept connections/, 20_000, `postgres on ${port}`);
    child = c;
  };
  // Other test runs on this machine draw ports from the same blocks: a port taken meanwhile is given up for another.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt === 5 || !/Address already in use/.test((err as Error).message)) throw err;
      port = await allocatePort();
    }
  }
  const admin = (database: string) => new pg.Client({ host: "127.0.0.1", port, user: "chat", database });
  const create = async (name: string) => {
    const c = admin("postgres");
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name}"`);
    } finally {
      await c.end();
    }
    return `postgres://chat@127.0.0.1:${port}/${name}`;
  };
  const url = await create("chat");
  // SIGINT is PostgreSQL's fast shutdown: open sessions are ended, not waited for.
  const stop = async () => {
    if (child) await stopChild(child, "SIGINT", 10_000);
    child = undefined;
  };
  return {
    port,
    url,
    client: async (database = "chat") => {
      const c = admin(database);
      await c.connect();
      return c;
    },
    createDatabase: create,
    stop,
    start: launch,
    stopFor: async (ms) => {
      await stop();
      await new Promise((r) => setTimeout(r, ms));
      await launch();
    },
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
