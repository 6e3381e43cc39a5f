/** The server's account routes (docs/protocol.md#accounts), as the page calls them. */

export interface AccountInfo {
  uid: string;
  name: string;
  /** What the account is shown as, and its avatar's colour (null: its uid's): its profile. */
  display: string;
  colour: number | null;
  admin: boolean;
  disabled: boolean;
}

export interface AuthState {
  account: AccountInfo | null;
  signup: "open" | "invite" | "closed";
  guests: boolean;
  /** AUTH_TOKEN_URL: the embedding app's endpoint that hands this browser its token. */
  tokenUrl: string | null;
  /** The OpenID Connect provider people may sign in through (OIDC_ISSUER), by the name they know it by. */
  oidc: { name: string } | null;
  /** A newcomer through the provider whose claimed name is taken: the name to start from. */
  chooseName: { suggested: string } | null;
  csrf: string;
}

/** A refusal the server explained: its code and its words, shown as they are. */
export class AuthRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = "";

export async function loadState(): Promise<AuthState> {
  const res = await fetch("/auth/state", { credentials: "same-origin", cache: "no-store" });
  if (!res.ok) throw new AuthRefusal("unavailable", "the server cannot be reached");
  const state = (await res.json()) as AuthState;
  csrf = state.csrf;
  return state;
}

/** Every POST carries the CSRF token the page was given, which no other site's page can read. */
export async function post<T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const answer = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) {
    throw new AuthRefusal(
      answer.error?.code ?? "unavailable",
      answer.error?.message ?? `the server answered ${res.status}`,
    );
  }
  return answer as T;
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  const answer = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) throw new AuthRefusal(answer.error?.code ?? "unavailable", answer.error?.message ?? "refused");
  return answer as T;
}

/** A short-lived ticket for one connection's first frame; refused once the session has ended. */
export async function ticket(): Promise<string> {
  return (await post<{ ticket: string }>("/auth/ticket")).ticket;
}

/**
 * A token from the embedding app's endpoint, asked with the browser's own
 * cookies there: the app says who the person is. Its refusal (401, 403)
 * means the person is signed out of the app.
 */
export async function appToken(url: string): Promise<string> {
  const res = await fetch(url, { credentials: "include", cache: "no-store" });
  if (res.status === 401 || res.status === 403) throw new AuthRefusal("unauthorized", "signed out of the app");
  if (!res.ok) throw new AuthRefusal("unavailable", `the app answered ${res.status}`);
  const text = (await res.text()).trim();
  // Either the token itself or {"token": "..."}: what embedding apps commonly answer.
  if (text.startsWith("{")) return String((JSON.parse(text) as { token?: unknown }).token ?? "");
  return text;
}

/** When a JWT ends (ms), read from its payload; the server checks the signature, the page only plans. */
export function expiryOf(token: string): number | undefined {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
