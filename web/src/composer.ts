import { MentionPicker } from "./autocomplete";

/**
 * The server's default MAX_MESSAGE_LENGTH. The server does not say its own: a
 * smaller one is met by its `too_long` refusal, which keeps the text.
 */
export const MESSAGE_LIMIT = 4000;
/** The counter shows from here on: far from the limit it is only noise. */
const COUNTER_FROM = MESSAGE_LIMIT - 500;
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
  private draft = "";
  private readonly counter: HTMLElement;
  private readonly editBar: HTMLElement;

  constructor(parts: ComposerParts, names: () => Iterable<string>, onInput: () => void) {
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

  /** Characters past MESSAGE_LIMIT; 0 when the text fits. */
  excess(): number {
    return Math.max(0, this.text.value.length - MESSAGE_LIMIT);
  }

  /** Re-measures the text: its height, and the counter near the limit. */
  changed(): void {
    this.text.style.height = "auto";
    this.text.style.height = `${Math.min(this.text.scrollHeight, MAX_HEIGHT_PX)}px`;
    const length = this.text.value.length;
    this.counter.hidden = length < COUNTER_FROM;
    this.counter.textContent = `${length} / ${MESSAGE_LIMIT}`;
    this.counter.classList.toggle("over", length > MESSAGE_LIMIT);
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
