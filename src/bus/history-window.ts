import type { HistoryPage, HistoryQuery } from "./broker.js";

export interface Stored {
  mid: number;
  ts: number;
  json: string;
}

function newest(list: Stored[], n: number): Stored[] {
  return n <= 0 ? [] : list.slice(-n);
}

/**
 * Answers a history query from the stored messages a broker read for it
 * (oldest first, consecutive mids): for `since`, every message after it, or
 * the newest `limit` when there are more; for a page, one more than the
 * limit, so that `complete` can tell whether older ones remain. Both brokers answer through it, so both answer alike.
 */
export function answerQuery(
  read: Stored[],
  top: number,
  epoch: string,
  query: HistoryQuery,
  maxAgeMs: number,
  /** The lowest mid from which `read` lacks only what was deleted on purpose; else its oldest. */
  floor?: number,
): HistoryPage {
  const cutoff = maxAgeMs > 0 ? Date.now() - maxAgeMs : 0;
  // Messages past HISTORY_MAX_AGE are gone, whether or not the store has dropped them yet.
  const fresh = cutoff > 0 ? read.filter((m) => m.ts >= cutoff) : read;
  const pick = (list: Stored[]) => list.map(({ mid, json }) => ({ mid, json }));
  if (query.since !== undefined) {
    const since = query.since;
    // Whoever saw no message at all cannot have seen one of another epoch.
    const sameEpoch = query.epoch === undefined || query.epoch === epoch || since === 0;
    const aged = fresh.length < read.length;
    const oldest = floor !== undefined && !aged ? floor : (fresh[0]?.mid ?? top + 1);
    // A `since` of another epoch counts messages that no longer exist: every
    // message of this epoch is new to the client, the first one included.
    const after = sameEpoch ? fresh.filter((m) => m.mid > since) : fresh;
    // More than `limit` after it is no recovery either: the reply is as large as a limit, never the whole history.
    const complete = sameEpoch && since <= top && since >= oldest - 1 && after.length <= query.limit;
    return { epoch, top, messages: pick(complete ? after : newest(after, query.limit)), complete };
  }
  const before = query.before;
  const older = before === undefined ? fresh : fresh.filter((m) => m.mid < before);
  const page = newest(older, query.limit);
  return { epoch, top, messages: pick(page), complete: page.length === older.length };
}

/**
 * A page of the Redis window (src/redis/lua/read-history.lua): `read` is mid,
 * bundle, mid, bundle… newest first, one more than `limit` when older ones
 * remain. Each bundle is the message as it is now, then its current changes;
 * the page holds the messages and those changes, in mid order, none above `top`.
 */
export function pageOfWindow(read: string[], top: number, epoch: string, limit: number, maxAgeMs: number): HistoryPage {
  const cutoff = maxAgeMs > 0 ? Date.now() - maxAgeMs : 0;
  const messages: { mid: number; json: string }[] = [];
  let fresh = 0;
  for (let i = 0; i + 1 < read.length; i += 2) {
    const [first = "", , ...changes] = (read[i + 1] as string).split("\n");
    const tab = first.indexOf("\t");
    // Messages past HISTORY_MAX_AGE are gone, whether or not the store has dropped them yet.
    if (tab < 0 || Number(first.slice(0, tab)) < cutoff) continue;
    if (++fresh > limit) break;
    messages.push({ mid: Number(read[i]), json: first.slice(tab + 1) });
    for (const line of changes) {
      const [, mid, json] = line.split("\t", 3);
      if (Number(mid) <= top && json !== undefined) messages.push({ mid: Number(mid), json });
    }
  }
  messages.sort((a, b) => a.mid - b.mid);
  return { epoch, top, messages, complete: fresh <= limit };
}
