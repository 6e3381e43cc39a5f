import { el } from "./dom";
import { field } from "./room-dialog";

/** The address that lets someone into a room: the token rides in the #part, which no server or proxy logs. */
export const inviteAddress = (token: string): string => `${location.origin}/#/room-invite/${token}`;

/** Reads an invitation's token off this page's address, if it holds one. */
export function inviteInAddress(): string | null {
  const found = /^#\/room-invite\/([A-Za-z0-9_-]{1,256})$/.exec(location.hash);
  return found?.[1] ?? null;
}

/** Shows a new invitation link, with a button that copies it. */
export class InviteDialog {
  readonly dialog: HTMLDialogElement;
  private readonly link = el("input", { name: "link", readonly: "" });
  private readonly about = el("p", {});
  private readonly copied = el("p", { role: "status" });

  constructor() {
    const copy = el("button", { type: "button" }, "Copy link");
    const close = el("button", { class: "ghost", type: "button" }, "Close");
    this.dialog = el(
      "dialog",
      { id: "invite-dialog", class: "room-panel", "aria-labelledby": "invite-dialog-title" },
      el("h2", { id: "invite-dialog-title" }, "Invite by link"),
      this.about,
      el("div", { class: "auth-form" }, ...field("Invitation link", this.link)),
      copy,
      this.copied,
      close,
    );
    document.body.append(this.dialog);
    close.addEventListener("click", () => this.dialog.close());
    copy.addEventListener("click", () => {
      this.link.select();
      navigator.clipboard.writeText(this.link.value).then(
        () => {
          this.copied.textContent = "Copied";
        },
        () => {
          this.copied.textContent = "Select the link and copy it";
        },
      );
    });
  }

  show(room: string, token: string, uses: number, expires: number): void {
    this.link.value = inviteAddress(token);
    const until = new Date(expires).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    this.about.textContent = `Lets ${uses === 1 ? "one person" : `${uses} people`} into ${room}, until ${until}.`;
    this.copied.textContent = "";
    this.dialog.showModal();
    this.link.select();
  }
}
