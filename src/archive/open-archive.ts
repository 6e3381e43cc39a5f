import type { Archive } from "./archive.js";
import { PostgresDriver } from "./postgres-driver.js";
import { SqlArchive } from "./sql-archive.js";
import { SqliteDriver } from "./sqlite-driver.js";

export type ArchiveTarget =
  | { kind: "postgres"; url: string; connectTimeoutMs: number }
  | { kind: "embedded"; dataDir: string };

/**
 * How long PostgreSQL may run one search before cancelling it. Searches over
 * a million messages answer within 30 ms at p95 (docs/performance.md); one
 * that runs this long is a query too broad to be worth the database's time.
 */
export const SEARCH_TIMEOUT_MS = 2000;

/**
 * Opens the archive and brings its schema up to date; throws ArchiveError
 * with one line for the operator. On PostgreSQL searches have a connection
 * of their own, under SEARCH_TIMEOUT_MS, so that a slow one holds up no
 * history page and no carry.
 */
export async function openArchive(target: ArchiveTarget): Promise<Archive> {
  if (target.kind === "embedded") return SqlArchive.open(SqliteDriver.open(target.dataDir));
  const archive = await SqlArchive.open(await PostgresDriver.open(target.url, target.connectTimeoutMs));
  try {
    archive.searchOn(await PostgresDriver.open(target.url, target.connectTimeoutMs, SEARCH_TIMEOUT_MS));
  } catch (err) {
    await archive.close();
    throw err;
  }
  return archive;
}
