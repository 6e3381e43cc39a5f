/**
 * The Archive seam's contract, run case for case against both engines it
 * opens: the embedded SQLite file and a real PostgreSQL 15 cluster. Each case
 * works through the Archive interface and, where the promise is about what is
 * kept (deletion erases), reads the rows directly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Archive } from "../src/archive/archive.js";
import { openArchive } from "../src/archive/open-archive.js";
import { type PostgresProcess, startPostgres } from "./support/postgres.js";
import { perTest } from "./support/scope.js";

const scope = perTest();

interface Engine {
  archive: Archive;
  /** Every row of a table, read directly. */
  rows(table: string): Promise<Record<string, unknown>[]>;
  /** The columns of each index on a table, as the engine reports them. */
  indexes(table: string): Promise<string[][]>;
}

let postgres: PostgresProcess;
let databases = 0;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(() => postgres?.remove());

const engines: Record<string, () => Promise<Engine>> = {
  SQLite: async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "chat-contract-"));
    const archive = await openArchive({ kind: "embedded", dataDir: dir });
    const db = new Database(path.join(dir, "chat.sqlite"), { readonly: true });
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    scope.defer(() => archive.close());
    scope.defer(() => db.close());
    return {
      archive,
      rows: async (t) => db.prepare(`SELECT * FROM ${t}`).all() as Record<string, unknown>[],
      indexes: async (t) =>
        (db.prepare("SELECT name FROM pragma_index_list(?)").all(t) as { name: string }[]).map(({ name }) =>
          (db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(name) as { name: string }[]).map(
            (c) => c.name,
          ),
        ),
    };
  },
  PostgreSQL: async () => {
    const database = `contract_${++databases}`;
    const url = await postgres.createDatabase(database);
    const archive = await openArchive({ kind: "postgres", url, connectTimeoutMs: 5000 });
    scope.defer(() => archive.close());
    const client = await postgres.client(database);
    scope.defer(() => client.end());
    return {
      archive,
      rows: async (t) => (await client.query(`SELECT * FROM ${t}`)).rows as Record<string, unknown>[],
      indexes: async (t) =>
        (
          await client.query(
            "SELECT array_agg(a.attname::text ORDER BY k.n) AS columns FROM pg_index i " +
              "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) " +
              "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum " +
              "WHERE i.indrelid = $1::regclass GROUP BY i.indexrelid",
            [t],
          )
        ).rows.map((r) => r.columns as string[]),
    };
  },
};

const frame = (f: Record<string, unknown>) => JSON.stringify(f);
const message = (mid: number, uid: string, text: string) =>
  ({ mid, ts: 1000 + mid, json: frame({ action: "message", mid, uid, message: text }) }) as const;
const change = (mid: number, f: Record<string, unknown>) =>
  ({ mid, ts: 1000 + mid, json: frame({ mid, ...f }) }) as const;
const texts = (entries: { json: string }[]) =>
  entries.map((e) => JSON.parse(e.json) as { action: string; message?: string; mid: number });

describe.each(Object.keys(engines))("the archive on %s", (name) => {
  const open = () => (engines[name] as () => Promise<Engine>)();

  it("keeps appended messages, and answers pages and `since` in mid order, keyed by place", async () => {
    const { archive } = await open();
    for (let mid = 1; mid <= 5; mid++) await archive.append("dev", "e1", message(mid, "ada", `m${mid}`));
    await archive.append("ops", "e2", message(1, "bob", "elsewhere"));
    expect(await archive.place("dev")).toEqual({ epoch: "e1", top: 5 });
    expect(await archive.place("nowhere")).toBeUndefined();

    const newest = await archive.page("dev", undefined, 2, 0);
    expect(texts(newest.entries).map((m) => m.message)).toEqual(["m4", "m5"]);
    expect(newest.complete).toBe(false);
    const oldest = await archive.page("dev", 3, 5, 0);
    expect(texts(oldest.entries).map((m) => m.message)).toEqual(["m1", "m2"]);
    expect(oldest.complete).toBe(true);

    expect(texts((await archive.since("dev", 3, 10, 0)) ?? []).map((m) => m.mid)).toEqual([4, 5]);
    expect(await archive.since("dev", 0, 4, 0)).toBeUndefined();
    // The cutoff hides messages older than the retention limit.
    expect(texts((await archive.page("dev", undefined, 10, 1004)).entries).map((m) => m.mid)).toEqual([4, 5]);
  });

  it("an edit replaces the text and drops the earlier edit", async () => {
    const { archive, rows } = await open();
    await archive.append("dev", "e", message(1, "ada", "first draft"));
    await archive.append("dev", "e", change(2, { action: "edit", target: 1, uid: "ada", message: "second draft" }));
    await archive.append("dev", "e", change(3, { action: "edit", target: 1, uid: "ada", message: "final" }));
    const [msg] = await rows("messages");
    expect(msg?.text).toBe("final");
    expect(JSON.stringify(await rows("changes"))).not.toContain("second draft");
    const shown = texts((await archive.page("dev", undefined, 10, 0)).entries);
    expect(shown.map((m) => [m.action, m.message])).toEqual([
      ["message", "first draft"],
      ["edit", "final"],
    ]);
  });

  it("a deletion leaves a tombstone with its mid and erases the text, its edits and its reactions", async () => {
    const { archive, rows } = await open();
    await archive.append("dev", "e", message(1, "ada", "hunter2 is my password"));
    await archive.append("dev", "e", change(2, { action: "edit", target: 1, uid: "ada", message: "hunter3" }));
    await archive.append("dev", "e", change(3, { action: "react", target: 1, uid: "bob", emoji: "👍", on: true }));
    await archive.append("dev", "e", message(4, "bob", "still here"));
    await archive.append("dev", "e", change(5, { action: "delete", target: 1, uid: "ada" }));

    const everything = JSON.stringify([await rows("messages"), await rows("changes"), await rows("reactions")]);
    expect(everything).not.toMatch(/hunter/);
    expect(await rows("reactions")).toEqual([]);
    const tomb = (await rows("messages")).find((r) => Number(r.mid) === 1);
    expect(tomb).toMatchObject({ text: null, edited: null });
    expect(Boolean(tomb?.deleted)).toBe(true);
    const shown = texts((await archive.page("dev", undefined, 10, 0)).entries);
    expect(shown.map((m) => [m.mid, m.action])).toEqual([
      [1, "message"],
      [4, "message"],
      [5, "delete"],
    ]);
  });

  it("keeps reactions as a set of (user, emoji): toggling leaves one entry, and taking one back removes it", async () => {
    const { archive, rows } = await open();
    await archive.append("dev", "e", message(1, "ada", "hi"));
    let mid = 1;
    for (let i = 0; i < 6; i++) {
      await archive.append(
        "dev",
        "e",
        change(++mid, { action: "react", target: 1, uid: "bob", emoji: "👍", on: i % 2 === 0 }),
      );
    }
    await archive.append("dev", "e", change(++mid, { action: "react", target: 1, uid: "cy", emoji: "🎉", on: true }));
    await archive.append("dev", "e", change(++mid, { action: "react", target: 1, uid: "bob", emoji: "🎉", on: true }));
    const set = (await rows("reactions")).map((r) => `${r.uid} ${r.emoji}`).sort();
    expect(set).toEqual(["bob 🎉", "cy 🎉"]);
    const shown = texts((await archive.page("dev", undefined, 10, 0)).entries);
    expect(shown.filter((m) => m.action === "react")).toHaveLength(3);
  });

  it("carries entries once: a batch carried again, or overlapping, adds only the mids it has not seen", async () => {
    const { archive, rows } = await open();
    const batch = [
      message(1, "ada", "one"),
      message(2, "bob", "two"),
      change(3, { action: "delete", target: 1, uid: "ada" }),
    ];
    expect(await archive.carry("dev", "e", batch)).toBe(3);
    expect(await archive.carry("dev", "e", batch)).toBe(0);
    expect(await archive.carry("dev", "e", [...batch.slice(1), message(4, "cy", "four")])).toBe(1);
    expect((await rows("messages")).map((r) => [Number(r.mid), r.text]).sort()).toEqual([
      [1, null],
      [2, "two"],
      [4, "four"],
    ]);
    expect(await archive.place("dev")).toEqual({ epoch: "e", top: 4 });
  });

  it("carries many places in one call: each counted apart, a change after its message in the same call, a repeat stored once", async () => {
    const { archive, rows } = await open();
    const first = [
      { place: "dev", epoch: "e1", entries: [message(1, "ada", "one"), message(2, "bob", "two")] },
      {
        place: "ops",
        epoch: "e2",
        entries: [
          message(1, "cy", "up"),
          change(2, { action: "edit", target: 1, uid: "cy", message: "up again" }),
          message(3, "cy", "down"),
        ],
      },
      { place: "@ada@bob", epoch: "e3", entries: [message(1, "ada", "hi")] },
    ];
    expect(await archive.carryMany(first)).toEqual([2, 3, 1]);
    expect(await archive.carryMany(first)).toEqual([0, 0, 0]);
    const overlapping = [
      { place: "ops", epoch: "e2", entries: [message(3, "cy", "down"), message(4, "cy", "four")] },
      { place: "dev", epoch: "e1", entries: [change(3, { action: "delete", target: 2, uid: "bob" })] },
    ];
    expect(await archive.carryMany(overlapping)).toEqual([1, 1]);
    expect(await archive.place("dev")).toEqual({ epoch: "e1", top: 3 });
    expect(await archive.place("ops")).toEqual({ epoch: "e2", top: 4 });
    expect(await archive.place("@ada@bob")).toEqual({ epoch: "e3", top: 1 });
    expect((await rows("messages")).map((r) => [r.place, Number(r.mid), r.text]).sort()).toEqual([
      ["@ada@bob", 1, "hi"],
      ["dev", 1, "one"],
      ["dev", 2, null],
      ["ops", 1, "up again"],
      ["ops", 3, "down"],
      ["ops", 4, "four"],
    ]);
  });

  it("purges messages written before the retention cutoff, with their changes and reactions", async () => {
    const { archive, rows } = await open();
    await archive.append("dev", "e", message(1, "ada", "old"));
    await archive.append("dev", "e", change(2, { action: "react", target: 1, uid: "bob", emoji: "👍", on: true }));
    await archive.append("dev", "e", message(3, "ada", "new"));
    // message() dates mid n at 1000 + n: the cutoff falls between the two messages.
    expect(await archive.purge(1003)).toBe(1);
    expect((await rows("messages")).map((r) => Number(r.mid))).toEqual([3]);
    expect(await rows("reactions")).toEqual([]);
    expect(await rows("changes")).toEqual([]);
    expect(texts((await archive.page("dev", undefined, 10, 0)).entries).map((m) => m.mid)).toEqual([3]);
  });

  it("purges a place at a time, through its primary key: other places and newer messages stay", async () => {
    const { archive, rows, indexes } = await open();
    // What each stored message pays for in indexes: the primary key, and on PostgreSQL search's two.
    const kept = name === "PostgreSQL" ? [["place", "mid"], ["place", "words"], ["ts"]] : [["place", "mid"]];
    expect((await indexes("messages")).sort()).toEqual(kept);
    await archive.append("dev", "e", message(1, "ada", "old"));
    await archive.append("dev", "e", message(5, "ada", "new"));
    await archive.append("ops", "e", message(2, "bob", "old too"));
    await archive.append("ops", "e", change(3, { action: "edit", target: 2, uid: "bob", message: "old, edited" }));
    await archive.append("qa", "e", message(9, "cy", "newer"));
    // Written under a clock behind the others': older than the cutoff, after a message within it.
    await archive.append("qa", "e", { ...message(10, "cy", "late clock"), ts: 1003 });
    expect(await archive.purge(1004)).toBe(2);
    expect((await rows("messages")).map((r) => [r.place, Number(r.mid)]).sort()).toEqual([
      ["dev", 5],
      ["qa", 10],
      ["qa", 9],
    ]);
    expect(await rows("changes")).toEqual([]);
    // Until the message before it goes, no read shows it.
    expect(texts((await archive.page("qa", undefined, 10, 1004)).entries).map((m) => m.mid)).toEqual([9]);
    expect(await archive.purge(1010)).toBe(3);
    expect(await rows("messages")).toEqual([]);
  });

  it("keeps users, their rooms, conversations, read marks and settings", async () => {
    const { archive } = await open();
    expect(await archive.loadUser("u1", 10)).toEqual({ name: undefined, rooms: [], conversations: [] });
    await archive.setName("u1", "ada");
    await archive.setName("u2", "bob");
    await archive.addRoom("u1", "dev");
    await archive.addRoom("u1", "ops");
    await archive.removeRoom("u1", "ops");
    await archive.touchConversation("u1", "u2", 5);
    expect(await archive.loadUser("u1", 10)).toEqual({
      name: "ada",
      rooms: ["dev"],
      conversations: [{ uid: "u2", name: "bob" }],
    });
    expect(await archive.nameOf("u2")).toBe("bob");
    expect(await archive.hasConversation("u2", "u1")).toBe(true);
    expect(await archive.hasConversation("u2", "u3")).toBe(false);

    expect(await archive.readMark("u1", "dev")).toBeUndefined();
    await archive.setReadMark("u1", "dev", "e", 4);
    await archive.setReadMark("u1", "dev", "e", 7);
    expect(await archive.readMark("u1", "dev")).toEqual({ epoch: "e", mid: 7 });

    expect(await archive.setting("guest-secret", "first")).toBe("first");
    expect(await archive.setting("guest-secret", "second")).toBe("first");

    expect(await archive.forgetUsers(Date.now() + 1000)).toBe(2);
    expect(await archive.loadUser("u1", 10)).toEqual({ name: undefined, rooms: [], conversations: [] });
    expect(await archive.readMark("u1", "dev")).toBeUndefined();
  });
});
