import { describe, expect, it } from "vitest";
import type { HistoryFrame, StoredEntry } from "../../web/src/protocol";
import {
  acceptLive,
  applyJoinHistory,
  applyOlderHistory,
  applyRead,
  newPlace,
  readUpTo,
  unread,
  unreadMentions,
} from "../../web/src/state";

const message = (mid: number, uid = "other"): StoredEntry => ({
  action: "message",
  mid,
  room: "dev",
  message: `message ${mid}`,
  id: "n.1",
  uid,
  name: uid,
  ts: mid,
});
const react = (mid: number, target: number): StoredEntry => ({
  action: "react",
  mid,
  target,
  room: "dev",
  id: "n.1",
  uid: "other",
  name: "other",
  ts: mid,
  emoji: "👍",
  on: true,
});

function history(fields: Partial<HistoryFrame> & { messages: StoredEntry[] }): HistoryFrame {
  return { action: "history", room: "dev", epoch: "e1", more: false, top: 0, read: 0, ...fields };
}

function joined(messages: StoredEntry[], read = 0) {
  const place = newPlace("room", "dev", "dev");
  const top = messages.at(-1)?.mid ?? 0;
  applyJoinHistory(place, history({ messages, top, read }));
  return place;
}

describe("the client's state of a place", () => {
  it("takes each mid once when replayed history and live frames overlap", () => {
    const place = joined([message(1), message(2)]);
    expect(acceptLive(place, message(2), false)).toBe(false);
    expect(acceptLive(place, message(3), false)).toBe(true);
    expect(place.lastMid).toBe(3);
  });

  it("counts as unread what others wrote after the mark, and none of the user's own", () => {
    const place = joined([message(1), message(2)], 1);
    expect(unread(place)).toBe(1);
    acceptLive(place, message(3, "me"), true);
    expect(unread(place)).toBe(0);
  });

  it("does not count reactions among unread messages", () => {
    const place = joined([message(1), react(2, 1)]);
    place.changes.record(react(2, 1) as Parameters<typeof place.changes.record>[0]);
    expect(unread(place)).toBe(1);
  });

  it("reads everything at the bottom, and only what was seen when scrolled up", () => {
    const place = joined([message(1), message(2), message(3), message(4)], 1);
    expect(readUpTo(place, true, 2)).toBe(4);
    expect(readUpTo(place, false, 2)).toBe(2);
    place.read = 2;
    expect(readUpTo(place, false, 2)).toBeNull();
    expect(readUpTo(place, false, 0)).toBeNull();
  });

  it("moves a read mark from another tab only forward, and only within its epoch", () => {
    const place = joined([message(1), message(2), message(3)], 1);
    expect(applyRead(place, 2, "e1")).toBe(true);
    expect(applyRead(place, 1, "e1")).toBe(false);
    expect(applyRead(place, 3, "another")).toBe(false);
    expect(place.read).toBe(2);
  });

  it("starts over when the history's epoch changed: old numbers mean nothing", () => {
    const place = joined([message(1), message(2)]);
    const again = applyJoinHistory(place, history({ epoch: "e2", messages: [message(1)], top: 1 }));
    expect(again).toMatchObject({ gap: true, epochChanged: true });
    expect(place.lastMid).toBe(1);
  });

  it("puts only older messages above when scrolling back, and none of another epoch", () => {
    const place = joined([message(5), message(6)]);
    expect(place.oldestMid).toBe(5);
    const older = applyOlderHistory(place, history({ messages: [message(3), message(4), message(5)], more: true }));
    expect(older.map((m) => m.mid)).toEqual([3, 4]);
    expect(place.oldestMid).toBe(3);
    expect(applyOlderHistory(place, history({ epoch: "e2", messages: [message(1)] }))).toEqual([]);
  });

  it("keeps with an older page the changes to its messages, numbered however much later", () => {
    const place = joined([message(5), message(6), react(7, 6)]);
    const older = applyOlderHistory(
      place,
      history({ messages: [message(3), message(4), react(7, 6), react(8, 3)], more: false }),
    );
    expect(older.map((m) => m.mid)).toEqual([3, 4, 8]);
    expect(place.oldestMid).toBe(3);
  });

  it("counts unread mentions until they are read or deleted", () => {
    const place = joined([message(1), message(2)]);
    place.mentions.add(2);
    expect(unreadMentions(place)).toBe(1);
    place.read = 2;
    expect(unreadMentions(place)).toBe(0);
  });
});
