/**
 * A node on PostgreSQL (DATABASE_URL, no Redis), as an operator runs it:
 * what it keeps across a restart, and how it refuses to start on a database
 * it cannot use.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS, type Migration, migrationSql } from "../src/archive/migrations.js";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import { allocatePort } from "./support/ports.js";
import { type PostgresProcess, startPostgres } from "./support/postgres.js";
import { type NodeProcess, runToExit } from "./support/processes.js";
import { perTest } from "./support/scope.js";

const scope = perTest();
let postgres: PostgresProcess;
let databases = 0;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => postgres?.remove());

async function guest(node: NodeProcess, token?: string): Promise<User> {
  const query = `proto=2&lobby=0${token ? `&guest=${encodeURIComponent(token)}` : ""}`;
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

async function historyOf(u: User, room: string) {
  const ref = `h-${Math.random()}`;
  await u.client.send({ action: "history", room, ref });
  const page = await u.client.action("history", (f) => f.ref === ref);
  return (page.messages as { message: string }[]).map((m) => m.message);
}

/** Lines a refused start wrote to stderr, without blank ones. */
const lines = (stderr: string) => stderr.split("\n").filter((l) => l.trim() !== "");

it("a node with DATABASE_URL alone keeps users, rooms and history in PostgreSQL across a restart", async () => {
  const database = `alone_${++databases}`;
  const url = await postgres.createDatabase(database);
  const env = { DATABASE_URL: url, RATE_LIMIT: "0" };
  const first = await scope.node(env);
  const ada = await guest(first);
  await ada.client.send({ action: "nick", name: "ada" });
  await ada.client.action("user_renamed");
  await joinRoom(ada, "dev");
  const mid = await say(ada, "kept in postgres", "dev");
  await first.stop();

  const db = await postgres.client(database);
  scope.defer(() => db.end());
  const rows = await db.query("SELECT place, mid, text FROM messages");
  expect(rows.rows).toEqual([{ place: "dev", mid: String(mid), text: "kept in postgres" }]);

  const second = await scope.node(env);
  const back = await guest(second, ada.guest);
  expect(back.uid).toBe(ada.uid);
  expect(back.name).toBe("ada");
  expect(back.info.rooms).toContain("dev");
  await joinRoom(back, "dev");
  expect(await historyOf(back, "dev")).toEqual(["kept in postgres"]);
  expect(await say(back, "and the next one", "dev")).toBe(mid + 1);
});

describe("start-up against a database it cannot use", () => {
  it("exits 1 with one line for a DATABASE_URL that is not a PostgreSQL URL", async () => {
    const r = await runToExit({ DATABASE_URL: "mysql://root:s3cret@127.0.0.1/chat" });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(/DATABASE_URL=.*must be a postgres:\/\/ or postgresql:\/\/ URL/),
    ]);
    expect(r.stderr).not.toContain("s3cret");
  });

  it("exits 1 with one line naming the address when nothing listens, without the password", async () => {
    const port = await allocatePort();
    const r = await runToExit({ DATABASE_URL: `postgres://chat:s3cret@127.0.0.1:${port}/chat` });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`cannot reach the database.*127.0.0.1:${port}`)),
    ]);
    expect(r.stderr).not.toContain("s3cret");
  });

  it("exits 1 with one line when the database does not exist", async () => {
    const r = await runToExit({ DATABASE_URL: postgres.urlOf("no_such_db") });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/cannot reach the database.*no_such_db.*does not exist/)]);
  });

  it("exits 1 with one clear line on a database whose schema is newer than the code", async () => {
    const database = `newer_${++databases}`;
    const url = await postgres.createDatabase(database);
    const db = await postgres.client(database);
    scope.defer(() => db.end());
    await db.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)");
    await db.query("INSERT INTO schema_migrations VALUES ($1, 0)", [MIGRATIONS.length + 1]);
    const r = await runToExit({ DATABASE_URL: url });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(`schema version ${MIGRATIONS.length + 1}, newer than this server's ${MIGRATIONS.length}`),
      ),
    ]);
  });

  it("brings an older database forward at start, and keeps what it held", async () => {
    const database = `older_${++databases}`;
    const url = await postgres.createDatabase(database);
    const db = await postgres.client(database);
    scope.defer(() => db.end());
    // The database as the release before the newest step left it, with a message in it.
    const before = MIGRATIONS.length - 1;
    await db.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)");
    for (let v = 1; v <= before; v++) {
      await db.query(migrationSql(MIGRATIONS[v - 1] as Migration, "PostgreSQL"));
      await db.query("INSERT INTO schema_migrations VALUES ($1, 0)", [v]);
    }
    const node = await scope.node({ DATABASE_URL: url, RATE_LIMIT: "0" });
    const versions = await db.query("SELECT version FROM schema_migrations ORDER BY version");
    expect(versions.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    const ada = await guest(node);
    await joinRoom(ada, "dev");
    await say(ada, "on the new schema", "dev");
    const rows = await db.query("SELECT text FROM messages WHERE place = 'dev'");
    expect(rows.rows).toEqual([{ text: "on the new schema" }]);
  });
});
