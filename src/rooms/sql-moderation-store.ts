import type { Archive } from "../archive/archive.js";
import {
  type BlockedUser,
  LIST_KEPT,
  type Logged,
  type ModerationStore,
  REPORT_WINDOW_SECONDS,
  type RoomList,
  type RoomModeration,
  type Sanction,
  type SanctionKind,
} from "./moderation-store.js";
import { Windows } from "./windows.js";

interface SanctionRow {
  uid: string;
  kind: string;
  until: number | string | null;
}

/**
 * Moderation in the archive's database (embedded SQLite or PostgreSQL),
 * beside the messages it is about. One process writes it, so slow-mode turns
 * and report counts are kept in its memory, as the user store counts first contacts.
 */
export class SqlModerationStore implements ModerationStore {
  private readonly turns = new Windows();
  private readonly reports = new Windows();

  constructor(private readonly archive: Archive) {}

  room(room: string): Promise<RoomModeration> {
    return this.archive.sql(async (db) => {
      const now = Date.now();
      const rows = await db.all<SanctionRow>(
        "SELECT uid, kind, until FROM room_sanctions WHERE room = ? AND (until IS NULL OR until > ?)",
        [room, now],
      );
      const [rules] = await db.all<{ slow: number; pinned: string | null; version: number | string }>(
        "SELECT slow, pinned, version FROM room_rules WHERE room = ?",
        [room],
      );
      const sanctions = rows.map(
        (r): Sanction => ({
          uid: r.uid,
          kind: r.kind === "ban" ? "ban" : "mute",
          until: r.until === null ? undefined : Number(r.until),
        }),
      );
      return {
        sanctions,
        slow: Number(rules?.slow ?? 0),
        pinned: rules?.pinned ?? undefined,
        version: Number(rules?.version ?? 0),
      };
    });
  }

  sanction(room: string, s: Sanction): Promise<void> {
    return this.archive.sql(async (db) => {
      // Ended sanctions of the room go as new ones come.
      await db.run("DELETE FROM room_sanctions WHERE room = ? AND until IS NOT NULL AND until <= ?", [
        room,
        Date.now(),
      ]);
      await db.run(
        "INSERT INTO room_sanctions (room, uid, kind, until) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (room, uid, kind) DO UPDATE SET until = excluded.until",
        [room, s.uid, s.kind, s.until ?? null],
      );
    });
  }

  lift(room: string, uid: string, kind: SanctionKind): Promise<void> {
    return this.archive.sql((db) =>
      db.run("DELETE FROM room_sanctions WHERE room = ? AND uid = ? AND kind = ?", [room, uid, kind]),
    );
  }

  setSlow(room: string, seconds: number): Promise<void> {
    return this.archive.sql((db) =>
      db.run(
        "INSERT INTO room_rules (room, slow, version) VALUES (?, ?, 1) " +
          "ON CONFLICT (room) DO UPDATE SET slow = excluded.slow, version = room_rules.version + 1",
        [room, seconds],
      ),
    );
  }

  setPinned(room: string, json: string | undefined): Promise<void> {
    return this.archive.sql((db) =>
      db.run(
        "INSERT INTO room_rules (room, pinned, version) VALUES (?, ?, 1) " +
          "ON CONFLICT (room) DO UPDATE SET pinned = excluded.pinned, version = room_rules.version + 1",
        [room, json ?? null],
      ),
    );
  }

  append(room: string, list: RoomList, entry: (id: number) => string): Promise<number> {
    return this.archive.sql((db) =>
      db.transaction(async () => {
        const [row] = await db.all<{ top: number | string | null }>(
          "SELECT MAX(id) AS top FROM room_logs WHERE room = ? AND kind = ?",
          [room, list],
        );
        const id = Number(row?.top ?? 0) + 1;
        await db.run("INSERT INTO room_logs (room, kind, id, json) VALUES (?, ?, ?, ?)", [room, list, id, entry(id)]);
        await db.run("DELETE FROM room_logs WHERE room = ? AND kind = ? AND id <= ?", [room, list, id - LIST_KEPT]);
        return id;
      }),
    );
  }

  page(room: string, list: RoomList, before: number | undefined, limit: number): Promise<Logged[]> {
    return this.archive.sql(async (db) => {
      const rows = await db.all<{ id: number | string; json: string }>(
        "SELECT id, json FROM room_logs WHERE room = ? AND kind = ? AND id < ? ORDER BY id DESC LIMIT ?",
        [room, list, before ?? Number.MAX_SAFE_INTEGER, limit],
      );
      return rows.map((r) => ({ id: Number(r.id), json: r.json }));
    });
  }

  async slowTurn(room: string, uid: string, seconds: number): Promise<number> {
    return this.turns.count(`${room}\n${uid}`, seconds, 1);
  }

  async countReport(uid: string, max: number): Promise<number> {
    return this.reports.count(uid, REPORT_WINDOW_SECONDS, max);
  }

  blocksOf(uid: string): Promise<BlockedUser[]> {
    return this.archive.sql((db) =>
      db.all<BlockedUser>("SELECT other AS uid, name FROM blocks WHERE uid = ? ORDER BY name", [uid]),
    );
  }

  block(uid: string, other: BlockedUser): Promise<void> {
    return this.archive.sql((db) =>
      db.run(
        "INSERT INTO blocks (uid, other, name) VALUES (?, ?, ?) ON CONFLICT (uid, other) DO UPDATE SET name = excluded.name",
        [uid, other.uid, other.name],
      ),
    );
  }

  unblock(uid: string, other: string): Promise<void> {
    return this.archive.sql((db) => db.run("DELETE FROM blocks WHERE uid = ? AND other = ?", [uid, other]));
  }
}
