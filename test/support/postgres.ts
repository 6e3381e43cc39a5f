import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { stopChild, waitForLine } from "./child-process.js";

const run = promisify(execFile);
const BIN = "/usr/lib/postgresql/15/bin";
const asRoot = process.getuid?.() === 0;

/** initdb and postgres refuse to run as root: there they run as the package's `postgres` user. */
function command(bin: string, args: string[]): [string, string[]] {
  const exe = path.join(BIN, bin);
  return asRoot ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", exe, ...args]] : [exe, args];
}

export interface PostgresProcess {
  /** For DATABASE_URL: the `chat` database, as the superuser `chat`. */
  readonly url: string;
  /** For DATABASE_URL: a database of this cluster, as the superuser `chat`. */
  urlOf(database: string): string;
  /** A client to a database (`chat` by default), for reading rows directly; the caller ends it. */
  client(database?: string): Promise<pg.Client>;
  /** A fresh database in this cluster, for a test that wants one of its own. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  /** Starts it again on the same data directory and socket; running, it is left as it is. */
  start(): Promise<void>;
  /** Stops it (fast shutdown: clients are cut off), and starts it again `ms` later. */
  stopFor(ms: number): Promise<void>;
  /** Stops it for good and removes its directory. */
  remove(): Promise<void>;
}

/**
 * A real PostgreSQL 15 cluster in a temporary directory, reached through a
 * unix socket inside that directory, with no password (trust). The one way
 * the tests start PostgreSQL.
 */
export async function startPostgres(): Promise<PostgresProcess> {
  // Only names the socket (.s.PGSQL.5432), in a directory of its own.
  const port = 5432;
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
      // The unix socket in its own directory only: on a machine where other test runs come and go,
      // no one else can take its address while it is stopped for an outage.
      "-c",
      "listen_addresses=",
      // A test cluster: its data is thrown away, so durability buys nothing.
      "-c",
      "fsync=off",
      "-c",
      "full_page_writes=off",
    ]);
    const c = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
    await waitForLine(c, /ready to accept connections/, 20_000, `postgres in ${dir}`);
    child = c;
  };
  await launch();
  const admin = (database: string) => new pg.Client({ host: dir, port, user: "chat", database });
  const urlOf = (name: string) => `postgres://chat@localhost:${port}/${name}?host=${encodeURIComponent(dir)}`;
  const create = async (name: string) => {
    const c = admin("postgres");
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name}"`);
    } finally {
      await c.end();
    }
    return urlOf(name);
  };
  const url = await create("chat");
  // SIGINT is PostgreSQL's fast shutdown: open sessions are ended, not waited for.
  const stop = async () => {
    if (child) await stopChild(child, "SIGINT", 10_000);
    child = undefined;
  };
  return {
    url,
    urlOf,
    client: async (database = "chat") => {
      const c = admin(database);
      await c.connect();
      return c;
    },
    createDatabase: create,
    stop,
    start: async () => {
      if (!child) await launch();
    },
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
