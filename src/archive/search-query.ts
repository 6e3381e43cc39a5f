import { foldedWords, nameKey, type Word } from "./search-text.js";

/**
 * The query language of `search` (docs/protocol.md#search), parsed once into
 * one tree and compiled from it for each engine. Everything the person typed
 * reaches the database as folded words inside a bound parameter, so no
 * character of theirs is ever an operator of FTS5 or of tsquery.
 */

/** A word matches any word it begins (prefix matching); a phrase matches whole words one after another. */
export type Term = { kind: "word"; word: string } | { kind: "phrase"; words: string[] };

export interface SearchQuery {
  /** Every one must match; never empty. */
  must: Term[];
  /** None may match. */
  not: Term[];
  /** `from:` names (as nameKey folds them): the sender is any of them. Empty: anyone. */
  from: string[];
  /** `in:` rooms: the message is in any of them. Empty: anywhere the person may read. */
  rooms: string[];
  /** `after:` (ms): sent at or after the start of that day (UTC). */
  after: number | undefined;
  /** `before:` (ms): sent before the start of that day (UTC). */
  before: number | undefined;
}

/** The longest query taken, in characters. */
export const QUERY_MAX = 256;
/**
 * The most words a query may look for and leave out, each word of a phrase
 * counting, once repeated words and phrases are dropped: each is a lookup in
 * the index, and a query of a hundred `-a`s had held a node for seconds.
 */
export const QUERY_WORDS_MAX = 16;
/**
 * Words shorter than this match only themselves, not as prefixes: a
 * one-letter prefix matches a good part of the language, which the index
 * must then read through.
 */
const PREFIX_MIN = 2;
/** The most `matches` ranges one hit carries: enough to highlight a message, never a reply's worth of numbers. */
export const MATCHES_MAX = 100;

/** A query refused: `too_long`, `empty` or `bad_request`, with a line that says why. */
export class QueryRefused extends Error {
  constructor(
    readonly code: "too_long" | "empty" | "bad_request",
    message: string,
  ) {
    super(message);
  }
}

const OPERATOR = /^(from|in|before|after):(.*)$/isu;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/u;

/** The start of a YYYY-MM-DD day (UTC), in ms; a day that does not exist is refused. */
function dayStart(op: string, value: string): number {
  const m = DATE.exec(value);
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const ms = Date.UTC(year, month - 1, day);
  const back = new Date(ms);
  if (!m || back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) {
    throw new QueryRefused("bad_request", `${op}: takes a date as YYYY-MM-DD, not '${value.slice(0, 32)}'`);
  }
  return ms;
}

/**
 * Text as a term: one word, or several (it held separators) as a phrase;
 * nothing when it has no word. A word too short to be a prefix is a phrase
 * of one word: it matches that whole word.
 */
function termOf(text: string, phrase: boolean): Term | undefined {
  const words = foldedWords(text);
  const [word] = words;
  if (word === undefined) return undefined;
  if (words.length === 1 && !phrase && [...word].length >= PREFIX_MIN) return { kind: "word", word };
  return { kind: "phrase", words };
}

const termKey = (term: Term) => (term.kind === "word" ? `w ${term.word}` : `p ${term.words.join(" ")}`);

/**
 * Reads `q`. An unbalanced quote, an operator without a value and an
 * operator this language does not have are read as text, never as syntax.
 */
export function parseQuery(q: string): SearchQuery {
  if (q.length > QUERY_MAX) throw new QueryRefused("too_long", `query is longer than ${QUERY_MAX} characters`);
  const query: SearchQuery = { must: [], not: [], from: [], rooms: [], after: undefined, before: undefined };
  const seen = new Set<string>();
  let words = 0;
  const add = (term: Term | undefined, negated: boolean) => {
    if (!term) return;
    const key = `${negated ? "-" : "+"}${termKey(term)}`;
    if (seen.has(key)) return;
    seen.add(key);
    words += term.kind === "word" ? 1 : term.words.length;
    if (words > QUERY_WORDS_MAX) {
      throw new QueryRefused("bad_request", `a search looks for and leaves out at most ${QUERY_WORDS_MAX} words`);
    }
    (negated ? query.not : query.must).push(term);
  };
  let i = 0;
  /** The text of a quoted part starting at `at` (a `"`), and where it ends; undefined when it is never closed. */
  const quoted = (at: number): { text: string; next: number } | undefined => {
    const close = q.indexOf('"', at + 1);
    return close < 0 ? undefined : { text: q.slice(at + 1, close), next: close + 1 };
  };
  while (i < q.length) {
    const ch = q[i] as string;
    if (/\s/u.test(ch)) {
      i++;
      continue;
    }
    const negated = ch === "-";
    const at = negated ? i + 1 : i;
    if (q[at] === '"') {
      const part = quoted(at);
      if (part) {
        add(termOf(part.text, true), negated);
        i = part.next;
        continue;
      }
      // An unbalanced quote separates words, as any other mark does.
      i = at + 1;
      continue;
    }
    let end = at;
    while (end < q.length && !/\s/u.test(q[end] as string) && q[end] !== '"') end++;
    const raw = q.slice(at, end);
    i = end;
    const op = negated ? undefined : OPERATOR.exec(raw);
    if (op) {
      const name = (op[1] as string).toLowerCase();
      let value = op[2] as string;
      if (value === "" && q[end] === '"') {
        const part = quoted(end);
        if (part) {
          value = part.text;
          i = part.next;
        }
      }
      if (value.trim() !== "") {
        if (name === "from") {
          const key = nameKey(value);
          if (key !== "") query.from.push(key);
        } else if (name === "in") {
          query.rooms.push(value.replace(/^#/u, "").trim().toLowerCase());
        } else if (name === "after") {
          query.after = Math.max(query.after ?? 0, dayStart("after", value));
        } else {
          const ms = dayStart("before", value);
          query.before = query.before === undefined ? ms : Math.min(query.before, ms);
        }
        continue;
      }
    }
    add(termOf(raw, false), negated);
  }
  if (query.must.length === 0) {
    throw new QueryRefused("empty", "the query has no word or phrase to look for");
  }
  return query;
}

/** Double quotes around a string FTS5 reads as one string, whatever it holds. */
const ftsString = (s: string) => `"${s.replace(/"/g, '""')}"`;

function ftsTerm(term: Term): string {
  return term.kind === "word" ? `${ftsString(term.word)}*` : ftsString(term.words.join(" "));
}

/**
 * The FTS5 MATCH expression: the places first (each a token of the `place`
 * column), then the terms on the `body` column. Passed as a bound parameter.
 */
export function ftsMatch(query: SearchQuery, placeTokens: string[]): string {
  const places = `place : (${placeTokens.map(ftsString).join(" OR ")})`;
  const must = `body : (${query.must.map(ftsTerm).join(" AND ")})`;
  const not = query.not.length > 0 ? ` NOT body : (${query.not.map(ftsTerm).join(" OR ")})` : "";
  return `${places} AND (${must}${not})`;
}

/** A lexeme as tsquery and tsvector input read it: quoted, its quotes and backslashes escaped. */
export const lexeme = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

function tsTerm(term: Term): string {
  return term.kind === "word" ? `${lexeme(term.word)}:*` : `(${term.words.map(lexeme).join(" <-> ")})`;
}

/** The tsquery text, cast with ::tsquery (not to_tsquery, which would parse the words again). Passed as a bound parameter. */
export function tsQuery(query: SearchQuery): string {
  const parts = [...query.must.map(tsTerm), ...query.not.map((t) => `!${tsTerm(t)}`)];
  return parts.join(" & ");
}

/**
 * Where the query's words and phrases matched in `text`, as [start, end)
 * UTF-16 ranges, in order, overlapping ones (a word that is also in a
 * phrase) as one; at most MATCHES_MAX. One pass over the words.
 */
export function matchRanges(words: Word[], query: SearchQuery): [number, number][] {
  const prefixes: string[] = [];
  const phrases: string[][] = [];
  for (const term of query.must) {
    if (term.kind === "word") prefixes.push(term.word);
    else phrases.push(term.words);
  }
  const ranges: [number, number][] = [];
  // One range past the cap, so that the last one kept has taken in everything that overlaps it.
  for (let i = 0; i < words.length && ranges.length <= MATCHES_MAX; i++) {
    const at = words[i] as Word;
    let end = prefixes.some((p) => at.word.startsWith(p)) ? at.end : -1;
    for (const phrase of phrases) {
      if (phrase.every((t, k) => words[i + k]?.word === t)) {
        end = Math.max(end, (words[i + phrase.length - 1] as Word).end);
      }
    }
    if (end < 0) continue;
    const last = ranges.at(-1);
    if (last && at.start <= last[1]) last[1] = Math.max(last[1], end);
    else ranges.push([at.start, end]);
  }
  return ranges.slice(0, MATCHES_MAX);
}
