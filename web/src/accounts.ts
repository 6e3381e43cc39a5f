/** The server's account routes (docs/protocol.md#accounts), as the page calls them. */

export interface AccountInfo {
  uid: string;
  name: string;
  admin: boolean;
  disabled: boolean;
}

export interface AuthState {
  account: AccountInfo | null;
  signup: "open" | "invite" | "closed";
  guests: boolean;
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
