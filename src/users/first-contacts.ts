import { FIRST_CONTACT_SECONDS } from "./user-store.js";

/**
 * First direct messages to each recipient, counted per FIRST_CONTACT_SECONDS
 * window in this process: the in-process stores' share of countFirstContact
 * (Redis counts with INCR and EXPIRE instead).
 */
export class FirstContacts {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  /** Counts one; 0 while within `max`, else the seconds until the window ends. */
  count(uid: string, max: number): number {
    const now = Date.now();
    let window = this.windows.get(uid);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + FIRST_CONTACT_SECONDS * 1000 };
      this.windows.set(uid, window);
    }
    window.count++;
    return window.count <= max ? 0 : Math.ceil((window.endsAt - now) / 1000);
  }

  /** Drops the windows that have ended, so recipients seen once are not held forever. */
  sweep(): void {
    const now = Date.now();
    for (const [uid, window] of this.windows) if (window.endsAt <= now) this.windows.delete(uid);
  }
}
