const NICK_KEY = "redis-sockjs-chat.nick";
const GUEST_KEY = "redis-sockjs-chat.guest";

// Storage can be disabled (private browsing, blocked cookies): then what it
// would keep lasts as long as the page.
function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // kept for this page only
  }
}

export const loadNick = (): string | null => load(NICK_KEY);
export const saveNick = (name: string): void => save(NICK_KEY, name);

/** The signed guest identity the server handed out: presenting it again makes this browser the same user. */
export const loadGuest = (): string | null => load(GUEST_KEY);
export const saveGuest = (token: string): void => save(GUEST_KEY, token);

const MUTED_KEY = "redis-sockjs-chat.muted";

/** The rooms the user muted in this browser: a choice about this screen, not kept by the server. */
export function loadMuted(): Set<string> {
  try {
    const value: unknown = JSON.parse(load(MUTED_KEY) ?? "[]");
    return new Set(Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
  } catch {
    return new Set();
  }
}
export const saveMuted = (rooms: Set<string>): void => save(MUTED_KEY, JSON.stringify([...rooms]));

const DRAFTS_KEY = "redis-sockjs-chat.drafts";

/** The unsent text of each place, as Drafts keeps it; anything malformed is dropped rather than trusted. */
export function loadDrafts(): Record<string, { text: string; title: string }> {
  try {
    const value: unknown = JSON.parse(load(DRAFTS_KEY) ?? "{}");
    if (typeof value !== "object" || value === null) return {};
    const drafts: Record<string, { text: string; title: string }> = {};
    for (const [key, d] of Object.entries(value)) {
      const { text, title } = (d ?? {}) as { text?: unknown; title?: unknown };
      if (typeof text === "string" && typeof title === "string") drafts[key] = { text, title };
    }
    return drafts;
  } catch {
    return {};
  }
}
export const saveDrafts = (drafts: Record<string, { text: string; title: string }>): void =>
  save(DRAFTS_KEY, JSON.stringify(drafts));

const PLACE_KEY = "redis-sockjs-chat.place";

/** The room or conversation on screen, so that a reload comes back to it. */
export const loadPlace = (): string | null => load(PLACE_KEY);
export const savePlace = (key: string): void => save(PLACE_KEY, key);

const UNSENT_KEY = "redis-sockjs-chat.unsent";

type Unsent = { ref: string; key: string; text: string };

function readUnsent(): Record<string, Unsent[]> {
  try {
    const value: unknown = JSON.parse(load(UNSENT_KEY) ?? "{}");
    if (typeof value !== "object" || value === null) return {};
    const byPage: Record<string, Unsent[]> = {};
    for (const [page, list] of Object.entries(value)) {
      if (!Array.isArray(list)) continue;
      byPage[page] = list.filter(
        (m): m is Unsent =>
          typeof m === "object" &&
          m !== null &&
          typeof m.ref === "string" &&
          typeof m.key === "string" &&
          typeof m.text === "string",
      );
    }
    return byPage;
  } catch {
    return {};
  }
}

/**
 * Takes over what pages before this one left unsent (a reload, a closed
 * tab): this page sends it now. Another tab that takes the same at once
 * sends the same refs, which the server stores once.
 */
export function claimUnsent(): Unsent[] {
  const all = readUnsent();
  save(UNSENT_KEY, "{}");
  return Object.values(all).flat();
}

/** Keeps this page's unacknowledged messages, under its own prefix beside other tabs'. */
export function saveUnsent(page: string, messages: readonly Unsent[]): void {
  const all = readUnsent();
  if (messages.length === 0) delete all[page];
  else all[page] = messages.map(({ ref, key, text }) => ({ ref, key, text }));
  save(UNSENT_KEY, JSON.stringify(all));
}
