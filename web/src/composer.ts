import { type Mentionable, MentionPicker } from "./autocomplete";

/** The counter shows this close to the limit: far from it, it is only noise. */
const COUNTER_WITHIN = 500;
const MAX_HEIGHT_PX = 160;

export interface ComposerParts {
  text: HTMLTextAreaElement;
  counter: HTMLElement;
  editBar: HTMLElement;
  mentionList: HTMLElement;
}

/**
 * The box a message is written in: it grows with its text, counts characters
 * near the limit, completes `@name`, and is also where one's own message is
 * edited (the draft waits meanwhile and comes back after).
 */
export class Composer {
  readonly text: HTMLTextAreaElement;
  readonly mentions: MentionPicker;
  /** The message being edited, while the composer edits rather than writes. */
  editing: { key: string; mid: number } | null = null;
  /**
   * What the server takes, in characters and in UTF-8 bytes, as its
   * `user_info` says; until it has, nothing is refused here (the server would).
   */
  private limit = { chars: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY };
  private draft = "";
  private readonly counter: HTMLElement;
  private readonly editBar: HTMLElement;

  constructor(parts: ComposerParts, names: () => Iterable<Mentionable>, onInput: () => void) {
    this.text = parts.text;
    this.counter = parts.counter;
    this.editBar = parts.editBar;
    this.mentions = new MentionPicker(this.text, parts.mentionList, names, () => {
      this.changed();
      onInput();
    });
  }

  get value(): string {
    return this.text.value;
  }

  set value(value: string) {
    this.text.value = value;
    this.changed();
  }

  setLimits(chars: number, bytes: number): void {
    this.limit = { chars, bytes };
    this.changed();
  }

  /** How far the text is over the server's limits, if it is: in characters, or else in bytes. */
  excess(): { chars: number; bytes: number; limit: number } | null {
    const chars = this.text.value.length - this.limit.chars;
    if (chars > 0) return { chars, bytes: 0, limit: this.limit.chars };
    // Counted as the server counts what it stores: the text as a JSON string, quotes left out.
    const bytes = new TextEncoder().encode(JSON.stringify(this.text.value)).length - 2 - this.limit.bytes;
    return bytes > 0 ? { chars: 0, bytes, limit: this.limit.bytes } : null;
  }

  /** Re-measures the text: its height, and the counter near the limit. */
  changed(): void {
    this.text.style.height = "auto";
    this.text.style.height = `${Math.min(this.text.scrollHeight, MAX_HEIGHT_PX)}px`;
    const length = this.text.value.length;
    this.counter.hidden = length < this.limit.chars - COUNTER_WITHIN;
    this.counter.textContent = `${length} / ${this.limit.chars}`;
    this.counter.classList.toggle("over", length > this.limit.chars);
  }

  focus(): void {
    this.text.focus();
  }

  startEdit(key: string, mid: number, text: string): void {
    if (!this.editing) this.draft = this.text.value;
    this.editing = { key, mid };
    this.editBar.hidden = false;
    this.value = text;
    this.text.focus();
    this.text.setSelectionRange(text.length, text.length);
  }

  /** Leaves editing (done or given up); the draft comes back. */
  endEdit(): void {
    if (!this.editing) return;
    this.editing = null;
    this.editBar.hidden = true;
    this.value = this.draft;
    this.draft = "";
  }
}
