import type { UserStore } from "../users/user-store.js";
import type { Hub } from "./hub.js";

/** However long USER_IDLE_TTL is, the users connected here are refreshed at least daily. */
const MAX_INTERVAL_MS = 86_400_000;

/**
 * Keeps what is stored of the users connected to this node from expiring
 * while they stay connected: their idle time counts from when they were last
 * here, not from when they came. Returns what stops it.
 */
export function keepConnectedUsers(hub: Hub, users: UserStore, idleMs: number): () => void {
  const timer = setInterval(
    () => {
      // Best effort: a store out of reach now is tried again next time, well within the idle time.
      for (const uid of hub.keptUsersHere()) void users.load(uid).catch(() => undefined);
    },
    Math.min(MAX_INTERVAL_MS, Math.max(1000, idleMs / 3)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
