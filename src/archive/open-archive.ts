import type { Archive } from "./archive.js";
import { PostgresDriver } from "./postgres-driver.js";
import { SqlArchive } from "./sql-archive.js";
import { SqliteDriver } from "./sqlite-driver.js";

export type ArchiveTarget =
  | { kind: "postgres"; url: string; connectTimeoutMs: number }
  | { kind: "embedded"; dataDir: string };

/** Opens the archive and brings its schema up to date; throws ArchiveError with one line for the operator. */
export async function openArchive(target: ArchiveTarget): Promise<Archive> {
  const driver =
    target.kind === "postgres"
      ? await PostgresDriver.open(target.url, target.connectTimeoutMs)
      : SqliteDriver.open(target.dataDir);
  return SqlArchive.open(driver);
}
