import { byId } from "./dom";

/**
 * A room's actions (Members, Invite, Mute, Reports) behind one "⋯" button on
 * a phone, where beside the room's name they took a second row of the
 * header, and a topic a third. On a wider screen the group is laid out in the
 * header (style.css) and the button is not shown. The group's buttons are
 * shown and hidden by whoever owns each; the toggle is shown while any of
 * them is.
 */
export function wireRoomActions(): void {
  const toggle = byId<HTMLButtonElement>("room-actions-toggle");
  const group = byId("room-actions");
  const actions = () => [...group.querySelectorAll<HTMLButtonElement>("button")].filter((b) => !b.hidden);
  const setOpen = (open: boolean) => {
    group.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  const close = (refocus: boolean) => {
    if (!group.classList.contains("open")) return;
    setOpen(false);
    if (refocus) toggle.focus();
  };

  new MutationObserver(() => {
    toggle.hidden = actions().length === 0;
    if (toggle.hidden) close(false);
  }).observe(group, { subtree: true, attributes: true, attributeFilter: ["hidden"] });
  toggle.hidden = actions().length === 0;

  toggle.addEventListener("click", () => {
    const open = !group.classList.contains("open");
    setOpen(open);
    if (open) actions()[0]?.focus();
  });
  // An action taken closes the list; what it opens takes the focus. When that (a dialog) closes,
  // the focus would go back to the action's button, folded away: it goes to the toggle instead.
  let taken: HTMLElement | null = null;
  group.addEventListener("click", (e) => {
    const button = (e.target as Element).closest("button");
    if (!button) return;
    taken = group.classList.contains("open") ? button : null;
    close(false);
  });
  document.addEventListener(
    "close",
    () => {
      const from = taken;
      taken = null;
      if (from === null) return;
      setTimeout(() => {
        if (from.offsetParent === null && !toggle.hidden) toggle.focus();
      });
    },
    true,
  );
  group.addEventListener("keydown", (e) => {
    if (e.key === "Escape") close(true);
  });
  document.addEventListener("pointerdown", (e) => {
    const target = e.target as Node;
    if (!group.contains(target) && !toggle.contains(target)) close(false);
  });
}
