import { el } from "./dom";

export type Visibility = "public" | "private" | "readonly";

export interface NewRoom {
  name: string;
  topic: string;
  visibility: Visibility;
}

let made = 0;

/** A labelled field of a dialog's form; its id is the page's own. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement): HTMLElement[] {
  control.id = `dialog-field-${++made}`;
  return [el("label", { for: control.id }, label), control];
}

/** The choice of who may come in, as the New room and Settings dialogs offer it. */
export function visibilityChoice(): HTMLSelectElement {
  return el(
    "select",
    { name: "visibility" },
    el("option", { value: "public" }, "Public: listed, anyone may join"),
    el("option", { value: "private" }, "Private: by invitation only"),
    el("option", { value: "readonly" }, "Read-only: anyone reads, moderators post"),
  );
}

/** The dialog that makes a room: its name, its topic and who may come in. */
export class RoomDialog {
  readonly dialog: HTMLDialogElement;
  private readonly form: HTMLFormElement;
  private readonly name = el("input", { name: "name", required: "", autocomplete: "off" });
  private readonly topic = el("input", { name: "topic", autocomplete: "off" });
  private readonly visibility = visibilityChoice();
  private readonly error = el("p", { class: "dialog-error", role: "alert" });

  constructor(create: (room: NewRoom) => void) {
    const cancel = el("button", { class: "ghost", type: "button" }, "Cancel");
    this.form = el(
      "form",
      { class: "auth-form" },
      ...field("Room name", this.name),
      ...field("Topic", this.topic),
      ...field("Who may come in", this.visibility),
      this.error,
      el("button", { type: "submit" }, "Create room"),
      cancel,
    );
    this.dialog = el(
      "dialog",
      { id: "room-dialog", class: "room-panel", "aria-labelledby": "room-dialog-title" },
      el("h2", { id: "room-dialog-title" }, "New room"),
      this.form,
    );
    document.body.append(this.dialog);
    cancel.addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.error.textContent = "";
      create({
        name: this.name.value,
        topic: this.topic.value,
        visibility: this.visibility.value as Visibility,
      });
    });
  }

  open(): void {
    this.form.reset();
    this.error.textContent = "";
    this.dialog.showModal();
    this.name.focus();
  }

  /** The server made it: the dialog goes. */
  done(): void {
    this.dialog.close();
  }

  /** The server refused it: why, in the dialog, which stays for another try. */
  refused(message: string): void {
    this.error.textContent = message;
  }
}
