/**
 * A panel over the whole page (sign in, the profile, the admin page) made a
 * modal dialog: the page behind it inert while it is open, so Tab stays in
 * it; the focus in it, and back on what opened it once it is put away. The
 * chat's other dialogs are native <dialog>s, which do this themselves; these
 * panels are sections of the page, the sign-in one shown before any chat.
 */
export class Overlay {
  private opener: HTMLElement | null = null;

  /** `closable`: Escape puts it away (the sign-in page, which may be all there is, is not). */
  constructor(
    private readonly section: HTMLElement,
    closable: boolean,
  ) {
    section.setAttribute("role", "dialog");
    section.setAttribute("aria-modal", "true");
    if (closable) {
      section.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.close();
      });
    }
  }

  /** Shows it over the page and focuses `focus`, or its first control. */
  open(focus?: HTMLElement | null): void {
    if (this.section.hidden && document.activeElement instanceof HTMLElement) this.opener = document.activeElement;
    this.section.hidden = false;
    for (const node of document.body.children) {
      if (node !== this.section && node instanceof HTMLElement) node.inert = true;
    }
    (focus ?? this.section.querySelector<HTMLElement>("input, select, textarea, button, a[href]"))?.focus();
  }

  close(): void {
    if (this.section.hidden) return;
    this.section.hidden = true;
    for (const node of document.body.children) if (node instanceof HTMLElement) node.inert = false;
    if (this.opener?.isConnected) this.opener.focus();
    this.opener = null;
  }
}
