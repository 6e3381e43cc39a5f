const NICK_KEY = "redis-sockjs-chat.nick";

export function loadNick(): string | null {
  try {
    return localStorage.getItem(NICK_KEY);
  } catch {
    // storage can be disabled (private browsing, blocked cookies)
    return null;
  }
}

export function saveNick(name: string): void {
  try {
    localStorage.setItem(NICK_KEY, name);
  } catch {
    // without storage the name lasts as long as the page
  }
}
