import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { launch, stopChild, waitReady } from "./procs.js";

const BIN = "/usr/lib/postgresql/15/bin";
const asRoot = process.getuid?.() === 0;

/** initdb and postgres refuse to run as root: there they run as the package's `postgres` user. */
function command(bin: string, args: string[]): [string, string[]] {
  const exe = path.join(BIN, bin);
  return asRoot ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", exe, ...args]] : [exe, args];
}

export interface Postgres {
  /** The postmaster: its backends are its children. */
  readonly pid: number;
  /** DATABASE_URL of the `chat` database, as the superuser `chat`. */
  readonly url: string;
  client(): Promise<pg.Client>;
  /** A fresh database in this cluster, for a stack of its own; its DATABASE_URL. */
  createDatabase(name: string): Promise<string>;
  /** Every process of the cluster, for CPU figures: backends come and go with connections. */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * A PostgreSQL 15 cluster in a temporary directory, reached through a unix
 * socket there. Unlike the tests' cluster it keeps the package defaults
 * (fsync, full-page writes): the ingest figure is meant for a real store.
 * `settings` are `name=value` for `postgres -c`, to see what one changes.
 */
export async function startPostgres(settings: string[] = []): Promise<Postgres> {
  const port = 5432;
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-pg-"));
  if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), 0);
  chmodSync(dir, 0o700);
  const data = path.join(dir, "data");
  execFileSync(...command("initdb", ["-D", data, "-U", "chat", "--auth=trust", "-E", "UTF8", "--no-sync"]));
  const [exe, args] = command("postgres", [
    ...["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses="],
    ...settings.flatMap((s) => ["-c", s]),
  ]);
  const { child, output } = launch(exe, args, {});
  await waitReady(child, output, async () => /ready to accept connections/.test(output()), "postgres");
  const connect = async (database: string) => {
    const c = new pg.Client({ host: dir, port, user: "chat", database });
    await c.connect();
    return c;
  };
  const urlOf = (name: string) => `postgres://chat@localhost:${port}/${name}?host=${encodeURIComponent(dir)}`;
  const createDatabase = async (name: string) => {
    const admin = await connect("postgres");
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    return urlOf(name);
  };
  const url = await createDatabase("chat");
  const pid = child.pid as number;
  return {
    pid,
    url,
    client: () => connect("chat"),
    createDatabase,
    pids: () => [pid, ...childrenOf(pid)],
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown: open sessions are ended, not waited for.
      await stopChild(child, 15_000, "SIGINT");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) out.push(Number(name));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}
