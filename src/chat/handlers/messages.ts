import { idempotencyKey } from "../../bus/idempotency.js";
import { RequestError } from "../../protocol/errors.js";
import { HISTORY_PAGE_MAX, type RequestOf } from "../../protocol/requests.js";
import { checkText, storedBytes } from "../../protocol/rules.js";
import * as frames from "../frames.js";
import { mayPost, pageKey, refuseMuted, withoutBlocked } from "../moderation.js";
import { requirePoster } from "../room-access.js";
import { type Caller, type Handler, memberRoom, openConversation } from "./caller.js";
import { keepUser } from "./keeping.js";
import { readOwn } from "./read-state.js";

/**
 * `message`: stores and publishes it, and lets the next request start at
 * once: the broker keeps the order publications were issued in, so waiting a
 * round trip between two messages of one client would only cap how fast that
 * client can talk. The `ack` (or the error) follows when it settles.
 */
export const message: Handler<"message"> = (caller, req) => {
  const { limits, allowances } = caller.ctx;
  const room = memberRoom(caller, req.room);
  requirePoster(caller, room);
  const text = checkText(req.message, limits);
  const go = () => {
    // Out of rooms to start, the first message of a room is refused; reading whether there is one
    // is only worth a round trip then, and the next request waits for it so the order stays.
    if (!allowances.mayStart(caller.uid, "room")) {
      return caller.ctx.hub.history(room, { limit: 1 }).then((page) => {
        if (page.top === 0) throw allowances.startRefusal(caller.uid, "room");
        return publish(caller, req, room, text);
      });
    }
    return publish(caller, req, room, text);
  };
  // The room's moderation as this node holds it: only slow mode, or a cache forgotten a moment ago, waits.
  const m = caller.ctx.moderation.cached(room);
  if (m !== undefined && m.slow === 0) {
    refuseMuted(m, caller.uid);
    return go();
  }
  return mayPost(caller, room).then(go);
};

function publish(caller: Caller, req: RequestOf<"message">, room: string, text: string) {
  const { hub, meter, allowances } = caller.ctx;
  allowances.charge(caller, storedBytes(text));
  // Not waited for: keeping the author (once) must not hold up the pipeline of its messages.
  if (!caller.kept) void keepUser(caller);
  const done = meter.publishTimer();
  const sent = hub.publishMessage(room, caller, text, idempotencyKey(req.action, caller.uid, req.ref)).then((at) => {
    done();
    // The first message of a room's history started it (or started it again, once forgotten).
    if (at.mid === 1) {
      allowances.started(caller.uid, "room");
      keepMadeRoom(caller, room);
    }
    if (req.ref !== undefined) caller.send(frames.ack({ of: "message", ref: req.ref, room, mid: at.mid }));
    return readOwn(caller, room, at);
  });
  return caller.pipeline(sent, req.ref);
}

/**
 * A room a `join` made is kept in the store from its first message on,
 * public and held by the admins, so that the directory lists it: as many a
 * user may add an hour as they may start rooms (NEW_ROOMS_PER_HOUR), and a
 * name only joined lists nothing. Not waited for: no message waits on the store.
 */
function keepMadeRoom(caller: Caller, room: string): void {
  const record = {
    id: room,
    name: room,
    topic: "",
    visibility: "public" as const,
    creator: undefined,
    created: Date.now(),
    version: 0,
  };
  void caller.ctx.rooms.store
    .create(record, undefined)
    .catch((err: unknown) => caller.ctx.log.warn({ err, room }, "could not list a room a join made"));
}

/** `history`: a page of a room's or an open conversation's stored messages, older than `before`. */
export const history: Handler<"history"> = async (caller, req) => {
  const { hub, historySize, pages } = caller.ctx;
  const room = req.with === undefined ? memberRoom(caller, req.room) : openConversation(caller, req.with);
  if (req.around !== undefined) return around(caller, req, room, req.around);
  const query = { before: req.before, limit: req.limit ?? Math.min(historySize, HISTORY_PAGE_MAX) };
  const read = await hub.history(room, query);
  const page = req.with === undefined ? read : withoutBlocked(caller, req.with, read);
  const fields = {
    room: req.with === undefined ? room : undefined,
    with: req.with,
    epoch: page.epoch,
    ref: req.ref,
    more: !page.complete,
    top: page.top,
    // Scroll-back does not move what was read; the join said where that is.
    read: 0,
  };
  caller.sendHistory(
    frames.history(
      fields,
      pages.messagesOf(req.with === undefined ? room : pageKey(caller, room, req.with), query, page),
    ),
  );
};

type Entry = { mid: number; json: string };
type EntryFields = { action?: unknown; target?: unknown };

/**
 * `history {around}`: the message `mid` with the messages before it and
 * after it, as two pages through the same broker as scroll-back (Redis's
 * window, then the archive), so a jump lands where live messages continue.
 */
async function around(caller: Caller, req: RequestOf<"history">, room: string, mid: number): Promise<void> {
  const { hub, historySize } = caller.ctx;
  const limit = req.limit ?? Math.min(historySize, HISTORY_PAGE_MAX);
  const after = Math.floor((limit - 1) / 2);
  const older = await hub.history(room, { before: mid + 1, limit: limit - after });
  const fields = (e: Entry) => JSON.parse(e.json) as EntryFields;
  const isMessage = (e: Entry) => {
    const action = fields(e).action;
    return action === "message" || action === "dm";
  };
  const kept = older.messages.some((e) => e.mid === mid && isMessage(e));
  const deleted = older.messages.some((e) => fields(e).action === "delete" && fields(e).target === mid);
  if (!kept || deleted) {
    throw new RequestError("no_such_message", `no message ${mid} here: never sent, deleted, or no longer kept`);
  }
  const byMid = new Map(older.messages.map((e) => [e.mid, e]));
  let top = older.top;
  if (after > 0) {
    // `before` counts mids, which changes take too: at most `after` messages follow, all newer than `mid`.
    const newer = await hub.history(room, { before: mid + 1 + after, limit: after });
    top = newer.top;
    for (const e of newer.messages) {
      const f = fields(e);
      const about = isMessage(e) ? e.mid : typeof f.target === "number" ? f.target : 0;
      if (about > mid) byMid.set(e.mid, e);
    }
  }
  const messages = [...byMid.values()].sort((a, b) => a.mid - b.mid);
  const frame = frames.history(
    {
      room: req.with === undefined ? room : undefined,
      with: req.with,
      epoch: older.epoch,
      ref: req.ref,
      more: !older.complete,
      top,
      read: 0,
      around: mid,
      newer: top > mid + after,
    },
    frames.historyMessages(messages.map((m) => m.json)),
  );
  caller.sendHistory(frame);
}
