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
): HistoryPage {
  const cutoff = maxAgeMs > 0 ? Date.now() - maxAgeMs : 0;
  // Messages past HISTORY_MAX_AGE are gone, whether or not the store has dropped them yet.
  const fresh = cutoff > 0 ? read.filter((m) => m.ts >= cutoff) : read;
  const pick = (list: Stored[]) => list.map(({ mid, json }) => ({ mid, json }));
  if (query.since !== undefined) {
    const since = query.since;
    // Whoever saw no message at all cannot have seen one of another epoch.
    const sameEpoch = query.epoch === undefined || query.epoch === epoch || since === 0;
    const oldest = fresh[0]?.mid ?? top + 1;
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
