import type { Emoji, StoredChange } from "./protocol";

/** A reaction change as the server stored it: the newest (highest mid) per user and emoji wins. */
interface Vote {
  mid: number;
  on: boolean;
}

/** What became of one message after it was sent. */
export interface MessageState {
  /** Final: no later edit or reaction changes a deleted message. */
  deleted: boolean;
  /** A moderator's deletion, not its author's. */
  removed: boolean;
  /** The newest edit: its text, when it was made, and the mid it is stored under. */
  edit: { mid: number; text: string; ts: number } | undefined;
  readonly votes: Map<Emoji, Map<string, Vote>>;
}

/**
 * The edits, deletions and reactions of one room or conversation, by the
 * message they change. They arrive in mid order live, but scroll-back brings
 * older ones after newer ones, and a change may come before the message it
 * changes is loaded: every rule here therefore compares mids rather than
 * trusting arrival order, and the state waits for its message.
 */
export class Changes {
  private readonly byTarget = new Map<number, MessageState>();
  /** Mids that are changes rather than messages: they number nothing a reader counts as unread. */
  private readonly mids = new Set<number>();

  /** Takes in a change; true when its message now looks different. */
  record(change: StoredChange): boolean {
    this.mids.add(change.mid);
    let state = this.byTarget.get(change.target);
    if (!state) {
      state = { deleted: false, removed: false, edit: undefined, votes: new Map() };
      this.byTarget.set(change.target, state);
    }
    if (state.deleted) return false;
    switch (change.action) {
      case "delete":
        state.deleted = true;
        state.removed = change.moderator === true;
        state.edit = undefined;
        state.votes.clear();
        return true;
      case "edit":
        if (state.edit && state.edit.mid > change.mid) return false;
        state.edit = { mid: change.mid, text: change.message, ts: change.ts };
        return true;
      case "react": {
        const votes = state.votes.get(change.emoji) ?? new Map<string, Vote>();
        state.votes.set(change.emoji, votes);
        const before = votes.get(change.uid);
        if (before && before.mid > change.mid) return false;
        votes.set(change.uid, { mid: change.mid, on: change.on });
        return before?.on !== change.on;
      }
    }
  }

  of(target: number): MessageState | undefined {
    return this.byTarget.get(target);
  }

  /** How many of the mids after `after` up to `upTo` are changes. */
  countBetween(after: number, upTo: number): number {
    let n = 0;
    for (const mid of this.mids) if (mid > after && mid <= upTo) n++;
    return n;
  }
}

/** The users who hold reaction `emoji` on the message now. */
export function reactors(state: MessageState, emoji: Emoji): string[] {
  return [...(state.votes.get(emoji) ?? [])].filter(([, vote]) => vote.on).map(([uid]) => uid);
}

/** Whether `uid` holds reaction `emoji` on the message now. */
export function hasReacted(state: MessageState | undefined, emoji: Emoji, uid: string): boolean {
  return state?.votes.get(emoji)?.get(uid)?.on === true;
}
