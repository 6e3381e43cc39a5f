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
