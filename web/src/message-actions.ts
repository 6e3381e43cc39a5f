import type { MessageEditor } from "./message-editor";
import { isEmoji } from "./message-node";

/** How long a first click on Delete waits for the second that confirms it. */
const CONFIRM_MS = 4000;

function closePickers(box: HTMLElement, except?: Element): void {
  for (const picker of box.querySelectorAll(".picker")) {
    if (picker === except) continue;
    picker.parentElement?.querySelector('[data-act="pick"]')?.setAttribute("aria-expanded", "false");
    picker.remove();
  }
}

/** Delete is final: the first click asks, a second one within a few seconds deletes. */
function confirmDelete(button: HTMLButtonElement, remove: () => void): void {
  if (button.dataset.confirm === "1") {
    remove();
    return;
  }
  const { textContent, title } = button;
  const label = button.getAttribute("aria-label") ?? "";
  button.dataset.confirm = "1";
  button.textContent = "Delete?";
  button.title = "Click again to delete for everyone";
  button.setAttribute("aria-label", "Click again to delete this message for everyone");
  window.setTimeout(() => {
    delete button.dataset.confirm;
    button.textContent = textContent;
    button.title = title;
    button.setAttribute("aria-label", label);
  }, CONFIRM_MS);
}

/** What "Copy link" needs: the address of a message of the place on screen, and a way to tell the user. */
export interface Links {
  linkTo(mid: number): string | null;
  notice(text: string): void;
}

/** Puts a message's address on the clipboard; where the page may not (no secure context), shows it to copy by hand. */
function copyLink(url: string, links: Links): void {
  const clipboard: Clipboard | undefined = navigator.clipboard;
  const byHand = () => links.notice(`Copy this link: ${url}`);
  if (!clipboard) {
    byHand();
    return;
  }
  clipboard.writeText(url).then(() => links.notice("Link to the message copied"), byHand);
}

/** The controls on messages (react, link, edit, delete, and a moderator's), handled once for the whole list. */
export function wireMessageActions(
  box: HTMLElement,
  editor: MessageEditor,
  links: Links,
  moderate: (act: string | undefined, mid: number) => boolean,
): void {
  box.addEventListener("click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-act]");
    const message = button?.closest<HTMLElement>(".msg[data-mid]");
    if (!button || !message) {
      closePickers(box);
      return;
    }
    const mid = Number(message.dataset.mid);
    switch (button.dataset.act) {
      case "pick": {
        const open = message.querySelector(".picker");
        closePickers(box);
        if (open) break;
        const picker = editor.picker(mid);
        message.append(picker);
        button.setAttribute("aria-expanded", "true");
        picker.querySelector("button")?.focus();
        break;
      }
      case "react": {
        const emoji = button.dataset.emoji;
        if (isEmoji(emoji)) editor.react(mid, emoji);
        if (button.closest(".picker")) {
          closePickers(box);
          message.querySelector<HTMLElement>('[data-act="pick"]')?.focus();
        }
        break;
      }
      case "more": {
        const open = message.classList.toggle("actions-open");
        button.setAttribute("aria-expanded", String(open));
        break;
      }
      case "link": {
        const url = links.linkTo(mid);
        if (url !== null) copyLink(url, links);
        break;
      }
      case "edit":
        editor.startEdit(mid);
        break;
      case "delete":
        confirmDelete(button, () => editor.remove(mid));
        break;
      default:
        moderate(button.dataset.act, mid);
    }
  });
  // Escape closes an open picker, or a phone's open controls of a message, and gives the focus back
  // to the button that opened it.
  box.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const target = event.target as Element;
    const picker = target.closest(".picker");
    if (picker) {
      const opener = picker.parentElement?.querySelector<HTMLElement>('[data-act="pick"]');
      closePickers(box);
      opener?.focus();
      return;
    }
    const message = target.closest(".actions-open");
    if (!message) return;
    message.classList.remove("actions-open");
    const more = message.querySelector<HTMLElement>('[data-act="more"]');
    more?.setAttribute("aria-expanded", "false");
    more?.focus();
  });
}
