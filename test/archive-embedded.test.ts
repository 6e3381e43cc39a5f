import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { expect, it } from "vitest";
import { connectUser, joinRoom, say, type User } from "./support/chat.js";
import { type NodeProcess, runToExit } from "./support/processes.js";
import { perTest } from "./support/scope.js";
import type { Frame } from "./support/sockjs-client.js";

const scope = perTest();

async function guest(node: NodeProcess, token?: string): Promise<User> {
  const query = `proto=2&lobby=0${token ? `&guest=${encodeURIComponent(token)}` : ""}`;
  const u = await connectUser(node.url, { query });
  scope.defer(() => u.client.close());
  return u;
}

async function historyOf(u: User, room: string, extra: Record<string, unknown> = {}) {
  const ref = `h-${Math.random()}`;
  await u.client.send({ action: "history", room, ref, ...extra });
  return u.client.action("history", (f) => f.ref === ref);
}

it("keeps rooms, users, history and the guest secret across a restart of the embedded server", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-kept-"));
  scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATA_DIR: dir, RATE_LIMIT: "0" };
  const first = await scope.node(env);
  const ada = await guest(first);
  await ada.client.send({ action: "nick", name: "ada" });
  await ada.client.action("user_renamed");
  await joinRoom(ada, "dev");
  await say(ada, "remember me", "dev");
  await first.stop();

  const second = await scope.node(env);
  const back = await guest(second, ada.guest);
  expect(back.uid).toBe(ada.uid);
  expect(back.name).toBe("ada");
  expect(back.info.rooms).toContain("dev");
  await joinRoom(back, "dev");
  const page = await historyOf(back, "dev");
  expect((page.messages as { message: string }[]).map((m) => m.message)).toEqual(["remember me"]);
});

it("erases a deleted message's text and earlier edits from the archive, and toggled reactions push nothing out", async () => {
  const n = await scope.node({ RATE_LIMIT: "0", HISTORY_SIZE: "5" });
  const ada = await guest(n);
  await joinRoom(ada, "dev");
  const secret = await say(ada, "hunter2 is my password", "dev");
  const kept = [];
  for (let i = 0; i < 4; i++) kept.push(await say(ada, `kept ${i}`, "dev"));
  await ada.client.send({ action: "edit", room: "dev", mid: secret, message: "hunter3 edited", ref: "e" });
  await ada.client.next((f) => f.ref === "e");
  for (let i = 0; i < 10; i++) {
    await ada.client.send({
      action: "react",
      room: "dev",
      mid: kept[0],
      emoji: "👍",
      remove: i % 2 === 1,
      ref: `r${i}`,
    });
    await ada.client.next((f) => f.ref === `r${i}`);
  }
  await ada.client.send({ action: "delete", room: "dev", mid: secret, ref: "d" });
  await ada.client.next((f) => f.ref === "d");

  const joiner = await guest(n);
  await joinRoom(joiner, "dev");
  const page = await historyOf(joiner, "dev");
  const shown = page.messages as { action: string; mid: number; message?: string }[];
  expect(shown.filter((m) => m.action === "message").map((m) => m.mid)).toEqual([secret, ...kept]);
  expect(JSON.stringify(shown)).not.toMatch(/hunter/);

  const db = new Database(path.join(n.dataDir, "chat.sqlite"), { readonly: true });
  try {
    const rows = [...db.prepare("SELECT * FROM messages").all(), ...db.prepare("SELECT * FROM changes").all()];
    expect(JSON.stringify(rows)).not.toMatch(/hunter/);
    expect(db.prepare("SELECT deleted FROM messages WHERE place = 'dev' AND mid = ?").get(secret)).toEqual({
      deleted: 1,
    });
  } finally {
    db.close();
  }
});

it("stops at start with one line and exit 1 when DATA_DIR cannot hold the archive", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-bad-"));
  scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const aFile = path.join(dir, "a-file");
  writeFileSync(aFile, "not a folder");
  const garbled = path.join(dir, "garbled");
  mkdirSync(garbled);
  writeFileSync(
    path.join(garbled, "chat.sqlite"),
    "this is not a database, and has more than a header's worth of bytes in it",
  );
  // The tests run as root here, so a folder without write permission would still be written: these cannot be.
  for (const DATA_DIR of [aFile, path.join(aFile, "below"), path.join(dir, "x".repeat(300)), garbled]) {
    const r = await runToExit({ DATA_DIR });
    expect(r.code, DATA_DIR).toBe(1);
    expect(r.stderr.trim().split("\n"), DATA_DIR).toEqual([expect.stringContaining(`DATA_DIR=${DATA_DIR}`)]);
  }
});

it("shows, opens, finds and keeps no message older than RETENTION_DAYS: more is false at the retention limit, and the rows are purged", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-retention-"));
  scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const first = await scope.node({ DATA_DIR: dir, RATE_LIMIT: "0" });
  const ada = await guest(first);
  await joinRoom(ada, "dev");
  const old = [await say(ada, "old 0", "dev"), await say(ada, "old 1", "dev")];
  await ada.client.send({ action: "react", room: "dev", mid: old[1], emoji: "👍", ref: "r" });
  await ada.client.next((f) => f.ref === "r");
  const recent = [await say(ada, "recent 0", "dev"), await say(ada, "recent 1", "dev")];
  await first.stop();
  // Three days ago, as the archive would hold it had it been written then.
  const db = new Database(path.join(dir, "chat.sqlite"));
  db.prepare("UPDATE messages SET ts = ? WHERE mid IN (?, ?)").run(Date.now() - 3 * 86_400_000, ...old);
  db.prepare("UPDATE search_docs SET ts = ? WHERE mid IN (?, ?)").run(Date.now() - 3 * 86_400_000, ...old);
  db.close();

  const second = await scope.node({ DATA_DIR: dir, RATE_LIMIT: "0", RETENTION_DAYS: "2" });
  const back = await guest(second);
  await joinRoom(back, "dev");
  const joined = await back.client.action("history", (f) => f.room === "dev");
  expect((joined.messages as { message: string }[]).map((m) => m.message)).toEqual(["recent 0", "recent 1"]);
  expect(joined.more).toBe(false);
  const older = await historyOf(back, "dev", { before: recent[0] });
  expect(older).toMatchObject({ messages: [], more: false });
  // A link to one of them, or a search, finds nothing of them either.
  const ask = async (body: Record<string, unknown>, reply: string) => {
    const ref = `a-${Math.random()}`;
    await back.client.send({ ...body, ref });
    return back.client.next((f) => f.ref === ref && (f.action === reply || f.action === "error"));
  };
  expect(await ask({ action: "history", room: "dev", around: old[1] }, "history")).toMatchObject({
    action: "error",
    code: "no_such_message",
  });
  expect(await ask({ action: "history", room: "dev", around: recent[0], limit: 3 }, "history")).toMatchObject({
    action: "history",
    around: recent[0],
  });
  expect(await ask({ action: "search", q: "old" }, "search")).toMatchObject({ action: "search", hits: [] });
  expect((await ask({ action: "search", q: "recent" }, "search")).hits).toHaveLength(2);

  await second.waitForOutput(/purged messages past RETENTION_DAYS/);
  const after = new Database(path.join(dir, "chat.sqlite"), { readonly: true });
  scope.defer(() => after.close());
  expect(after.prepare("SELECT mid FROM messages ORDER BY mid").all()).toEqual(recent.map((mid) => ({ mid })));
  expect(after.prepare("SELECT count(*) AS n FROM reactions").get()).toEqual({ n: 0 });
  expect(after.prepare("SELECT count(*) AS n FROM changes").get()).toEqual({ n: 0 });
});

it("recovers from the archive up to RECOVERY_MAX messages, in frames of at most 100, and past it says recovered: false", async () => {
  const n = await scope.node({
    RATE_LIMIT: "0",
    HISTORY_SIZE: "10",
    RECOVERY_MAX: "300",
    WRITE_BYTES_PER_USER: "0",
    WRITE_BYTES_PER_IP: "0",
  });
  const ada = await guest(n);
  await joinRoom(ada, "long");
  const first = await say(ada, "m 1", "long");
  const { epoch } = await historyOf(ada, "long");
  const writeUpTo = async (from: number, to: number) => {
    for (let i = from; i <= to; i++) await say(ada, `m ${i}`, "long");
  };
  const rejoin = async (ref: string) => {
    const back = await guest(n);
    await back.client.send({ action: "join", room: "long", since: first, epoch, ref });
    await back.client.action("users", (f) => f.ref === ref);
    return back.client.all("history").filter((f) => f.ref === ref);
  };
  const texts = (frames: Frame[]) => frames.flatMap((f) => (f.messages as Frame[]).map((m) => m.message));

  // 250 after `since`, far past the 10 a join shows: all of them, each once, in order.
  await writeUpTo(2, 251);
  const recovered = await rejoin("back");
  expect(recovered.map((f) => (f.messages as Frame[]).length)).toEqual([100, 100, 50]);
  expect(recovered.map((f) => f.recovered)).toEqual([true, true, true]);
  expect(texts(recovered)).toEqual(Array.from({ length: 250 }, (_, i) => `m ${i + 2}`));

  // 350 after it: past RECOVERY_MAX, so the newest, and older ones left to scroll-back.
  await writeUpTo(252, 351);
  const cut = await rejoin("cut");
  expect(cut.map((f) => [f.recovered, f.more])).toEqual([[false, true]]);
  expect(texts(cut)).toEqual(Array.from({ length: 10 }, (_, i) => `m ${i + 342}`));
}, 60_000);

it("a burst from many members, written in shared transactions, is in the file for every ack, through a SIGKILL right after", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chat-burst-"));
  scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const n = await scope.node({ DATA_DIR: dir, RATE_LIMIT: "0", WRITE_BYTES_PER_USER: "0", WRITE_BYTES_PER_IP: "0" });
  const rooms = ["dev", "ops"];
  const members = await Promise.all(Array.from({ length: 20 }, () => guest(n)));
  for (const [i, m] of members.entries()) await joinRoom(m, rooms[i % 2] as string);
  // Each member sends without waiting for the others, so that many messages wait for the same turn.
  const acked = await Promise.all(
    members.map(async (m, i) => {
      const mine: [string, number, string][] = [];
      for (let k = 0; k < 10; k++) {
        const text = `member ${i} says ${k}`;
        mine.push([rooms[i % 2] as string, await say(m, text, rooms[i % 2]), text]);
      }
      return mine;
    }),
  );
  await n.kill();

  const db = new Database(path.join(dir, "chat.sqlite"), { readonly: true });
  scope.defer(() => db.close());
  const kept = db.prepare("SELECT place, mid, text FROM messages ORDER BY place, mid").all() as {
    place: string;
    mid: number;
    text: string;
  }[];
  const sorted = acked.flat().sort(([pa, ma], [pb, mb]) => pa.localeCompare(pb) || ma - mb);
  expect(kept.map((r) => [r.place, r.mid, r.text])).toEqual(sorted);
  for (const room of rooms) {
    expect(kept.filter((r) => r.place === room).map((r) => r.mid)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  }
});
