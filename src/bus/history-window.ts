import type { HistoryPage, HistoryQuery } from "./broker.js";

export interface Stored {
  mid: number;
  ts: number;
  frame: string;
}

/**
 * Answers a history query from the messages a room still holds (oldest first,
 * consecutive mids). Both brokers use it, so both give the same answers.
 */
function newest(list: Stored[], n: number): Stored[] {
  return n <= 0 ? [] : list.slice(-n);
}

export function answerQuery(held: Stored[], top: number, epoch: string, query: HistoryQuery): HistoryPage {
  const pick = (list: Stored[]) => list.map(({ mid, frame }) => ({ mid, frame }));
  const oldest = held[0]?.mid ?? top + 1;
  if (query.since !== undefined) {
    const sameEpoch = query.epoch === undefined || query.epoch === epoch;
    const after = held.filter((m) => m.mid > (query.since as number));
    const complete = sameEpoch && query.since <= top && query.since >= oldest - 1;
    const messages = complete ? after : newest(after, query.limit);
    return { epoch, top, messages: pick(messages), complete };
  }
  const older = query.before === undefined ? held : held.filter((m) => m.mid < (query.before as number));
  const page = newest(older, query.limit);
  return { epoch, top, messages: pick(page), complete: page.length === older.length };
}
