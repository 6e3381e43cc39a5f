const TITLE = document.title;

/**
 * What reaches the user outside the page: the tab's title while it is
 * hidden, and browser notifications for mentions and direct messages, once
 * the user allowed them. The browser is asked only on a click on the
 * "Enable notifications" control, never by itself.
 */
export class Attention {
  constructor(
    enable: HTMLButtonElement,
    /** Brings a room or a conversation on screen, when its notification is clicked. */
    private readonly open: (key: string) => void,
  ) {
    const supported = "Notification" in window;
    enable.hidden = !supported || Notification.permission !== "default";
    enable.addEventListener("click", async () => {
      const answer = await Notification.requestPermission();
      enable.hidden = answer !== "default";
    });
  }

  /** The counts outside what the reader is looking at; shown in the title while the tab is hidden. */
  showCounts(unread: number, mentions: number): void {
    const counts = [unread > 0 && `${unread} new`, mentions > 0 && `${mentions} mention${mentions === 1 ? "" : "s"}`]
      .filter(Boolean)
      .join(", ");
    document.title = document.visibilityState === "hidden" && counts !== "" ? `(${counts}) ${TITLE}` : TITLE;
  }

  /** A notification that brings `key` on screen when clicked; only while the page is out of sight. */
  notify(key: string, title: string, body: string): void {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return;
    // One per place: a burst of mentions replaces its notification rather than piling up.
    const notification = new Notification(title, { body, tag: key });
    notification.onclick = () => {
      window.focus();
      this.open(key);
      notification.close();
    };
  }
}
