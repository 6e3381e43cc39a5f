import { el } from "./dom";

/** Messages of one sender closer together than this read as one run: the name and time show once. */
const RUN_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/** The calendar day of `ts` where the reader is. */
function dayOf(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function dayLabel(ts: number): string {
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  const start = new Date(ts);
  start.setHours(0, 0, 0, 0);
  const days = Math.round((today.getTime() - start.getTime()) / DAY_MS);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return start.toLocaleDateString([], {
    weekday: "long",
    month: "long",
    day: "numeric",
    year: start.getFullYear() === today.getFullYear() ? undefined : "numeric",
  });
}

/** A message with a sender and a time: only these form runs and have days (a `pm` has no user id). */
function dated(node: Element | null): { uid: string; ts: number } | null {
  if (!(node instanceof HTMLElement) || !node.classList.contains("msg")) return null;
  const { uid, ts } = node.dataset;
  return uid === undefined || ts === undefined ? null : { uid, ts: Number(ts) };
}

const isDay = (node: Element | null): node is HTMLElement => node?.classList.contains("day") === true;

/** Where a message's day line goes: above it, or above the unread line right over it, which reads as part of the day. */
function dayAnchor(message: Element): Element {
  const before = message.previousElementSibling;
  return before?.classList.contains("new-line") ? before : message;
}

/** The message a day line stands over, if it stands where it should. */
function dayOwner(day: Element): Element | null {
  const next = day.nextElementSibling;
  const message = next?.classList.contains("new-line") ? next.nextElementSibling : next;
  return dated(message) ? message : null;
}

/**
 * Lays out the part of a log from `first` to `last` that just came in (and
 * the message after it, whose neighbour changed): a day line before the first
 * message of each day, and `grouped` on a message that continues its sender's
 * run. Anything else between two messages (someone joined, the unread line)
 * ends a run. Day lines are this function's alone: it adds, relabels and
 * removes them.
 */
export function layout(first: Element, last: Element): void {
  // Where the new part starts: the run it may continue and the day it is in.
  let run: { uid: string; ts: number } | null = null;
  let day = "";
  let adjacent = true;
  for (let node = first.previousElementSibling; node; node = node.previousElementSibling) {
    if (isDay(node)) continue;
    const message = dated(node);
    if (message) {
      if (adjacent) run = message;
      day = dayOf(message.ts);
      break;
    }
    adjacent = false;
  }
  let passedLast = false;
  let node: Element | null = first;
  while (node) {
    const next: Element | null = node.nextElementSibling;
    if (node === last) passedLast = true;
    if (isDay(node)) {
      // A day line belongs right before a message; one left elsewhere is stale.
      if (!dayOwner(node)) node.remove();
    } else {
      const message = dated(node);
      if (!message) run = null;
      else {
        const anchor = dayAnchor(node);
        const before = anchor.previousElementSibling;
        const today = dayOf(message.ts);
        if (today !== day) {
          const label = dayLabel(message.ts);
          if (isDay(before)) {
            before.textContent = label;
            before.setAttribute("aria-label", label);
          } else anchor.before(el("div", { class: "day", role: "separator", "aria-label": label }, label));
          run = null;
        } else if (isDay(before)) before.remove();
        const grouped =
          run !== null && run.uid === message.uid && message.ts >= run.ts && message.ts - run.ts <= RUN_MS;
        node.classList.toggle("grouped", grouped);
        run = message;
        day = today;
        // The first message after the new part is settled now; what follows it did not change.
        if (passedLast && node !== last) return;
      }
    }
    node = next;
  }
}
