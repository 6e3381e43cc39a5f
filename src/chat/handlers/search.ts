import { RequestError } from "../../protocol/errors.js";
import type { SearchHit } from "../../protocol/frames.js";
import { checkRoom } from "../../protocol/rules.js";
import { conversationOf } from "../conversations.js";
import * as frames from "../frames.js";
import { readablePlaces } from "../readable.js";
import type { Handler } from "./caller.js";

/** Hits in a reply when the request does not say. */
const SEARCH_PAGE_DEFAULT = 20;

const isBug = (err: unknown) => err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError;

/**
 * `search`: messages the user may read that match `q`, newest first. What
 * may be read is asked first (readablePlaces); a `room` or `with` outside it
 * finds nothing, the same answer as a room without a match, so that names
 * cannot be probed.
 */
export const search: Handler<"search"> = async (caller, req) => {
  const { search: archive, limits, log } = caller.ctx;
  if (!archive) {
    throw new RequestError(
      "unavailable",
      "search needs the archive: this server keeps none (Redis without DATABASE_URL)",
    );
  }
  const readable = await readablePlaces(caller);
  let places = [...readable.keys()];
  if (req.room !== undefined) {
    const room = checkRoom(req.room, limits);
    places = places.filter((p) => p === room);
  } else if (req.with !== undefined) {
    const place = conversationOf(caller.uid, req.with);
    places = places.filter((p) => p === place);
  }
  const done = await caller.ctx.searchTurns.take(caller.uid, caller.clientAddress);
  const answer = await archive
    .search({ q: req.q, places, before: req.before, limit: req.limit ?? SEARCH_PAGE_DEFAULT })
    .catch((err: unknown) => {
      if (isBug(err)) throw err;
      log.warn({ err: (err as Error).message }, "search: the archive did not answer");
      throw new RequestError("unavailable", "search is out of reach right now (the database is away): try again later");
    })
    .finally(done);
  // The archive's own time on it, not the wait for its turn: others' searches are not this one's cost.
  caller.chargeWork(answer.ms ?? 0);
  if ("refused" in answer) throw new RequestError(answer.refused, answer.why);
  const hits: SearchHit[] = answer.hits.map((hit) => {
    const sent = JSON.parse(hit.json) as { id?: unknown; uid?: unknown; name?: unknown };
    return {
      ...readable.get(hit.place),
      mid: hit.mid,
      id: String(sent.id ?? ""),
      uid: String(sent.uid ?? ""),
      name: String(sent.name ?? ""),
      ts: hit.ts,
      message: hit.text,
      edited: hit.edited,
      matches: hit.matches,
    };
  });
  caller.sendHistory(
    frames.search({ q: req.q, room: req.room, with: req.with, hits, next: answer.next, ref: req.ref }),
  );
};
