/**
 * What search compares: text folded once, here, so that SQLite and
 * PostgreSQL index and look up exactly the same words. A word is a run of
 * letters and digits after Unicode NFKD, without combining marks, in lower
 * case: "Café", "CAFE" and "café" are one word, and every other character
 * separates words, so nothing typed is ever an operator of either engine.
 */

/** A word as indexed, and where its run lies in the original text (UTF-16 offsets). */
export interface Word {
  word: string;
  start: number;
  end: number;
}

/** Longer words are cut here, in the index and in queries alike: PostgreSQL refuses lexemes over 2 KiB. */
export const WORD_MAX = 64;

// Marks ride with their run so that a decomposed accent (e + U+0301) does not split a word.
const RUN = /[\p{L}\p{N}\p{M}]+/gu;
const FOLDED_WORD = /[\p{L}\p{N}]+/gu;
// Most chat is ASCII, where folding is lower case alone (NFKD and the marks change nothing): the carry indexes every message.
const ASCII = /^[\x00-\x7f]*$/;
const ASCII_RUN = /[a-z0-9]+/gi;

/**
 * The words of ASCII text (runs of a-z, A-Z, 0-9, in lower case), read char
 * by char: the carry indexes every message it writes, and a regex's match
 * objects for each were about 5 % of what a carrying node allocated
 * (`npm run bench:archive -- --alloc`).
 */
function asciiWords(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0;
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      out.push(text.slice(start, Math.min(i, start + WORD_MAX)).toLowerCase());
      start = -1;
    }
  }
  return out;
}

/** The words of a run once folded: compatibility forms spelled out (ﬁ → fi, ½ → 1 2), accents dropped. */
export function foldedWords(text: string): string[] {
  if (ASCII.test(text)) return asciiWords(text);
  // Lower case can bring marks back (İ → i + U+0307), and writes a word-final sigma as ς: folded after.
  const folded = text.normalize("NFKD").toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").replace(/ς/gu, "σ");
  return Array.from(folded.matchAll(FOLDED_WORD), (m) => m[0].slice(0, WORD_MAX));
}

/** Every word of `text` in order, each with the place in `text` it came from, for highlighting. */
export function wordsOf(text: string): Word[] {
  const out: Word[] = [];
  if (ASCII.test(text)) {
    for (const run of text.matchAll(ASCII_RUN))
      out.push({ word: run[0].slice(0, WORD_MAX).toLowerCase(), start: run.index, end: run.index + run[0].length });
    return out;
  }
  for (const run of text.matchAll(RUN)) {
    const start = run.index;
    const end = start + run[0].length;
    for (const word of foldedWords(run[0])) out.push({ word, start, end });
  }
  return out;
}

/** The words of `text` in order, without where each came from. */
function wordList(text: string): string[] {
  return ASCII.test(text) ? asciiWords(text) : wordsOf(text).map((w) => w.word);
}

/** The words of `text`, one space between each: the text both engines index. */
export function indexedText(text: string): string {
  return wordList(text).join(" ");
}

/** A sender's name as `from:` compares it. */
export function nameKey(name: string): string {
  return foldedWords(name).join(" ");
}

/** PostgreSQL's positions stop here; later words share the last one. */
const POSITION_MAX = 16383;

/**
 * `text` as tsvector input (cast with ::tsvector): our words with their
 * positions, so that PostgreSQL indexes the same words as SQLite, not those
 * its own parser would find.
 */
export function tsvectorText(text: string): string {
  const positions = new Map<string, number[]>();
  wordList(text).forEach((word, i) => {
    const at = positions.get(word) ?? [];
    if (at.length < 256) at.push(Math.min(i + 1, POSITION_MAX));
    positions.set(word, at);
  });
  return Array.from(positions, ([word, at]) => `'${word}':${at.join(",")}`).join(" ");
}
