import { el } from "./dom";
import { field, visibilityChoice } from "./room-dialog";

/** A room's settings as the dialog shows them: what a moderator may change, and what only its owner may. */
export interface RoomSettings {
  name: string;
  topic: string;
  visibility: "public" | "private" | "readonly";
  /** Seconds between two messages of one person; 0 for none. */
  slow: number;
}

/** What the person changed: only the fields that differ from what the dialog opened with. */
export interface SettingsChange {
  name?: string;
  topic?: string;
  visibility?: "public" | "readonly";
  slow?: number;
}

/** Slow mode's choices: the steps people choose between, not every second up to SLOW_MAX. */
const SLOW_STEPS: [number, string][] = [
  [0, "Off"],
  [10, "10 seconds"],
  [30, "30 seconds"],
  [60, "1 minute"],
  [300, "5 minutes"],
  [900, "15 minutes"],
  [3600, "1 hour"],
];

/**
 * The dialog where a room's moderators change its topic and slow mode, and
 * its owner also its name and who may come in (a private room stays private,
 * so that choice is only offered for the others).
 */
export class RoomSettingsDialog {
  readonly dialog: HTMLDialogElement;
  private readonly title = el("h2", { id: "room-settings-title" }, "Room settings");
  private readonly form: HTMLFormElement;
  private readonly name = el("input", { name: "name", required: "", autocomplete: "off" });
  private readonly topic = el("input", { name: "topic", autocomplete: "off" });
  private readonly visibility = visibilityChoice();
  private readonly slow = el("select", { name: "slow" });
  private readonly ownerOnly: HTMLElement[];
  private readonly error = el("p", { class: "dialog-error", role: "alert" });
  private opened: RoomSettings | undefined;

  constructor(save: (change: SettingsChange) => void) {
    const seconds = (s: number) =>
      el("option", { value: String(s) }, SLOW_STEPS.find(([v]) => v === s)?.[1] ?? `${s} seconds`);
    this.slow.append(...SLOW_STEPS.map(([s]) => seconds(s)));
    const nameField = field("Room name", this.name);
    const visibilityField = field("Who may come in", this.visibility);
    this.ownerOnly = [...nameField, ...visibilityField];
    const cancel = el("button", { class: "ghost", type: "button" }, "Cancel");
    this.form = el(
      "form",
      { class: "auth-form" },
      ...nameField,
      ...field("Topic", this.topic),
      ...visibilityField,
      ...field("Slow mode: one message a person every", this.slow),
      this.error,
      el("button", { type: "submit" }, "Save"),
      cancel,
    );
    this.dialog = el(
      "dialog",
      { id: "room-settings", class: "room-panel", "aria-labelledby": "room-settings-title" },
      this.title,
      this.form,
    );
    document.body.append(this.dialog);
    cancel.addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.error.textContent = "";
      const was = this.opened;
      if (!was) return;
      const change: SettingsChange = {};
      if (!this.name.hidden && this.name.value !== was.name) change.name = this.name.value;
      if (this.topic.value !== was.topic) change.topic = this.topic.value;
      const visibility = this.visibility.value as RoomSettings["visibility"];
      if (!this.visibility.disabled && visibility !== was.visibility && visibility !== "private") {
        change.visibility = visibility;
      }
      if (Number(this.slow.value) !== was.slow) change.slow = Number(this.slow.value);
      if (Object.keys(change).length === 0) this.dialog.close();
      else save(change);
    });
  }

  /** Opens on `room`'s settings as they are; `owner` shows what only the owner may change. */
  open(room: string, now: RoomSettings, owner: boolean): void {
    this.opened = now;
    this.title.textContent = `Settings of ${room}`;
    this.error.textContent = "";
    this.name.value = now.name;
    this.topic.value = now.topic;
    this.visibility.value = now.visibility;
    // The private choice is there only to say what a private room is: no room becomes private, and none stops being.
    const privateRoom = now.visibility === "private";
    for (const option of this.visibility.options) option.hidden = option.value === "private" && !privateRoom;
    this.visibility.disabled = privateRoom;
    if (!SLOW_STEPS.some(([s]) => s === now.slow)) {
      this.slow.append(el("option", { value: String(now.slow) }, `${now.slow} seconds`));
    }
    this.slow.value = String(now.slow);
    for (const node of this.ownerOnly) node.hidden = !owner;
    this.dialog.showModal();
    (owner ? this.name : this.topic).focus();
  }

  /** Every change was taken: the dialog goes. */
  done(): void {
    this.dialog.close();
  }

  /** A change was refused: why, in the dialog, which stays for another try. */
  refused(message: string): void {
    this.error.textContent = message;
  }
}
