/** What was typed in one place and not sent, and the title to list that place under if the page has forgotten it. */
export interface Draft {
  text: string;
  title: string;
}

/**
 * The unsent text of each room and conversation, by place key. A draft
 * belongs to the place it was typed in: it is only ever given back to that
 * place, so a private line can never end up in another room's composer.
 * Keyed apart from the places themselves, so a draft outlives a place the
 * page drops (a left room, a person the server forgot).
 */
export class Drafts {
  private readonly byKey: Map<string, Draft>;

  constructor(
    saved: Record<string, Draft> = {},
    /** Called with every change, to keep the drafts across a reload. */
    private readonly persist: (all: Record<string, Draft>) => void = () => {},
  ) {
    this.byKey = new Map(Object.entries(saved).filter(([, d]) => d.text !== ""));
  }

  text(key: string): string {
    return this.byKey.get(key)?.text ?? "";
  }

  title(key: string): string | undefined {
    return this.byKey.get(key)?.title;
  }

  /** Keeps `text` as the draft of `key`; an empty text forgets it. */
  keep(key: string, text: string, title: string): void {
    if (this.byKey.get(key)?.text === text) return;
    if (text === "") this.byKey.delete(key);
    else this.byKey.set(key, { text, title });
    this.persist(Object.fromEntries(this.byKey));
  }

  /** The keys that hold a draft. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }
}
