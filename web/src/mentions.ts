/** A letter, digit or underscore of any script: what a mentioned name must not run on into. */
const WORD = "[\\p{L}\\p{N}_]";
/** Names offered at once while a mention is typed. */
const MAX_OFFERED = 8;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `@name` as a whole word, in any case; names may hold spaces and punctuation. Null for no name. */
export function mentionPattern(name: string): RegExp | null {
  if (name === "") return null;
  return new RegExp(`(?<!${WORD})@${escapeRegExp(name)}(?!${WORD})`, "giu");
}

export function mentions(text: string, name: string): boolean {
  return mentionPattern(name)?.test(text) ?? false;
}

/**
 * The mention being typed: an `@` at the start or after a space, and what
 * follows it up to the caret. A name with a space in it is found by its first
 * word and completed whole.
 */
export function mentionQuery(beforeCaret: string): { start: number; query: string } | null {
  const match = /(?:^|\s)@([^\s@]*)$/u.exec(beforeCaret);
  if (!match) return null;
  const query = match[1] ?? "";
  return { start: beforeCaret.length - query.length - 1, query };
}

/** The names `query` could begin (the whole name or one of its words), those it begins first. */
export function namesFor(query: string, names: Iterable<string>): string[] {
  const q = query.toLocaleLowerCase();
  const scored: { name: string; rank: number }[] = [];
  for (const name of new Set(names)) {
    const lower = name.toLocaleLowerCase();
    if (lower.startsWith(q)) scored.push({ name, rank: 0 });
    else if (lower.split(/\s+/).some((word) => word.startsWith(q))) scored.push({ name, rank: 1 });
  }
  return scored
    .sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name))
    .slice(0, MAX_OFFERED)
    .map((s) => s.name);
}
