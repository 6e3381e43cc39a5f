import type { Archive } from "../archive/archive.js";
import type { SqlDriver } from "../archive/sql-driver.js";
import type { Role, Visibility } from "../protocol/rooms.js";
import { decodeCursor, encodeCursor, nameKey } from "./cursor.js";
import type { LinkRecord, MemberRecord, Page, RoomChange, RoomRecord, RoomStore } from "./room-store.js";

interface RoomRow {
  id: string;
  name: string;
  name_key: string;
  topic: string;
  visibility: string;
  creator: string | null;
  created: number | string;
  version: number | string;
}

interface MemberRow {
  uid: string;
  name: string;
  name_key: string;
  role: string;
}

const ROOM_COLUMNS = "id, name, name_key, topic, visibility, creator, created, version";

const room = (r: RoomRow): RoomRecord => ({
  id: r.id,
  name: r.name,
  topic: r.topic,
  visibility: r.visibility as Visibility,
  creator: r.creator ?? undefined,
  created: Number(r.created),
  version: Number(r.version),
});

/** `q` as a LIKE pattern that matches it as text: `%`, `_` and `\\` mean nothing. */
const containing = (q: string) => `%${nameKey(q).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * Rooms in the archive's database (embedded SQLite or PostgreSQL), the
 * system of record, beside the messages. A link's uses are counted by one
 * conditional UPDATE, so two nodes redeeming its last use at once cannot both have it.
 */
export class SqlRoomStore implements RoomStore {
  constructor(private readonly archive: Archive) {}

  get(id: string): Promise<RoomRecord | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE id = ?`, [id]);
      return row && room(row);
    });
  }

  create(r: RoomRecord, owner: { uid: string; name: string } | undefined): Promise<boolean> {
    return this.archive.sql(async (db) => {
      const made = await db.all<{ id: string }>(
        `INSERT INTO rooms (${ROOM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [r.id, r.name, nameKey(r.name), r.topic, r.visibility, r.creator ?? null, r.created],
      );
      if (made.length === 0) return false;
      if (owner) await this.putMember(db, r.id, { ...owner, role: "owner" });
      return true;
    });
  }

  /** The database keeps rooms as it keeps their messages (RETENTION_DAYS): nothing to renew. */
  async touch(): Promise<void> {}

  createdBy(uid: string): Promise<number> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<{ n: number | string }>("SELECT COUNT(*) AS n FROM rooms WHERE creator = ?", [uid]);
      return Number(row?.n ?? 0);
    });
  }

  update(id: string, change: RoomChange): Promise<RoomRecord | undefined> {
    return this.archive.sql(async (db) => {
      // One statement: what it returns is the change with its own count, whatever another node changes at once.
      const [row] = await db.all<RoomRow>(
        `UPDATE rooms SET name = COALESCE(?, name), name_key = COALESCE(?, name_key), topic = COALESCE(?, topic),
           visibility = COALESCE(?, visibility), version = version + 1
         WHERE id = ? RETURNING ${ROOM_COLUMNS}`,
        [
          change.name ?? null,
          change.name === undefined ? null : nameKey(change.name),
          change.topic ?? null,
          change.visibility ?? null,
          id,
        ],
      );
      return row && room(row);
    });
  }

  directory(q: string | undefined, after: string | undefined, limit: number): Promise<Page<RoomRecord>> {
    return this.archive.sql(async (db) => {
      const from = decodeCursor(after);
      const where = ["visibility <> 'private'"];
      const params: unknown[] = [];
      if (q !== undefined) {
        where.push("name_key LIKE ? ESCAPE '\\'");
        params.push(containing(q));
      }
      if (from) {
        where.push("(name_key > ? OR (name_key = ? AND id > ?))");
        params.push(from[0], from[0], from[1]);
      }
      const rows = await db.all<RoomRow>(
        `SELECT ${ROOM_COLUMNS} FROM rooms WHERE ${where.join(" AND ")} ORDER BY name_key, id LIMIT ?`,
        [...params, limit + 1],
      );
      const items = rows.slice(0, limit);
      const last = rows.length > limit ? rows[limit - 1] : undefined;
      return { items: items.map(room), next: last && encodeCursor(last.name_key, last.id) };
    });
  }

  member(roomId: string, uid: string): Promise<MemberRecord | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<MemberRow>(
        "SELECT uid, name, name_key, role FROM room_members WHERE room = ? AND uid = ?",
        [roomId, uid],
      );
      return row && { uid: row.uid, name: row.name, role: row.role as Role };
    });
  }

  setMember(roomId: string, m: MemberRecord): Promise<void> {
    return this.archive.sql((db) => this.putMember(db, roomId, m));
  }

  private async putMember(db: SqlDriver, roomId: string, m: MemberRecord) {
    await db.run(
      `INSERT INTO room_members (room, uid, name, name_key, role) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (room, uid) DO UPDATE SET name = excluded.name, name_key = excluded.name_key, role = excluded.role`,
      [roomId, m.uid, m.name, nameKey(m.name), m.role],
    );
  }

  removeMember(roomId: string, uid: string): Promise<void> {
    return this.archive.sql((db) => db.run("DELETE FROM room_members WHERE room = ? AND uid = ?", [roomId, uid]));
  }

  members(roomId: string, after: string | undefined, limit: number): Promise<Page<MemberRecord>> {
    return this.archive.sql(async (db) => {
      const from = decodeCursor(after);
      const rows = await db.all<MemberRow>(
        `SELECT uid, name, name_key, role FROM room_members WHERE room = ?${
          from ? " AND (name_key > ? OR (name_key = ? AND uid > ?))" : ""
        } ORDER BY name_key, uid LIMIT ?`,
        [roomId, ...(from ? [from[0], from[0], from[1]] : []), limit + 1],
      );
      const last = rows.length > limit ? rows[limit - 1] : undefined;
      return {
        items: rows.slice(0, limit).map((r) => ({ uid: r.uid, name: r.name, role: r.role as Role })),
        next: last && encodeCursor(last.name_key, last.uid),
      };
    });
  }

  invite(roomId: string, uid: string, expires: number): Promise<void> {
    return this.archive.sql((db) =>
      db.run(
        "INSERT INTO room_invitations (room, uid, expires) VALUES (?, ?, ?) ON CONFLICT (room, uid) DO UPDATE SET expires = excluded.expires",
        [roomId, uid, expires],
      ),
    );
  }

  takeInvitation(roomId: string, uid: string, now: number): Promise<boolean> {
    return this.archive.sql(async (db) => {
      const taken = await db.all<{ uid: string }>(
        "DELETE FROM room_invitations WHERE room = ? AND uid = ? AND expires > ? RETURNING uid",
        [roomId, uid, now],
      );
      return taken.length > 0;
    });
  }

  addLink(hash: string, link: LinkRecord): Promise<void> {
    return this.archive.sql((db) =>
      db.run("INSERT INTO room_links (hash, room, by_uid, uses_left, expires) VALUES (?, ?, ?, ?, ?)", [
        hash,
        link.room,
        link.by,
        link.usesLeft,
        link.expires,
      ]),
    );
  }

  linkRoom(hash: string, now: number): Promise<string | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<{ room: string }>(
        "SELECT room FROM room_links WHERE hash = ? AND uses_left > 0 AND expires > ?",
        [hash, now],
      );
      return row?.room;
    });
  }

  redeemLink(hash: string, now: number): Promise<string | undefined> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<{ room: string }>(
        "UPDATE room_links SET uses_left = uses_left - 1 WHERE hash = ? AND uses_left > 0 AND expires > ? RETURNING room",
        [hash, now],
      );
      return row?.room;
    });
  }

  outstanding(roomId: string, now: number): Promise<number> {
    return this.archive.sql(async (db) => {
      const [row] = await db.all<{ n: number | string }>(
        `SELECT (SELECT COUNT(*) FROM room_invitations WHERE room = ? AND expires > ?)
              + (SELECT COUNT(*) FROM room_links WHERE room = ? AND uses_left > 0 AND expires > ?) AS n`,
        [roomId, now, roomId, now],
      );
      return Number(row?.n ?? 0);
    });
  }
}
