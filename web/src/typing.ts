/** Who is typing in each room, by uid; an entry lapses unless a new `typing` renews it. */
export class TypingTracker {
  private readonly rooms = new Map<string, Map<string, { name: string; timer: number }>>();

  constructor(
    private readonly ttlMs: number,
    private readonly changed: (room: string) => void,
  ) {}

  note(room: string, uid: string, name: string): void {
    const typists = this.rooms.get(room) ?? new Map<string, { name: string; timer: number }>();
    this.rooms.set(room, typists);
    window.clearTimeout(typists.get(uid)?.timer);
    typists.set(uid, { name, timer: window.setTimeout(() => this.clear(room, uid), this.ttlMs) });
    this.changed(room);
  }

  clear(room: string, uid: string): void {
    const typists = this.rooms.get(room);
    const entry = typists?.get(uid);
    if (!typists || !entry) return;
    window.clearTimeout(entry.timer);
    typists.delete(uid);
    this.changed(room);
  }

  clearRoom(room: string): void {
    for (const id of [...(this.rooms.get(room)?.keys() ?? [])]) this.clear(room, id);
  }

  typists(room: string): Typist[] {
    return [...(this.rooms.get(room)?.entries() ?? [])].map(([uid, t]) => ({ uid, name: t.name }));
  }
}

/** Someone typing: their uid, which names them by their profile, and the name their `typing` carried. */
export interface Typist {
  uid: string;
  name: string;
}

/** A piece of the line that says who is typing: words, or a person. */
export type TypingPart = string | Typist;

export function typingLine(typists: Typist[]): TypingPart[] {
  const [a, b] = typists;
  if (a === undefined) return [];
  if (b === undefined) return [a, " is typing…"];
  if (typists.length === 2) return [a, " and ", b, " are typing…"];
  return ["Several people are typing…"];
}

/** Lets one `typing` through per interval and room: the others only need to know it goes on. */
export class TypingThrottle {
  private room = "";
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs: number) {}

  /** The next keystroke goes out at once: a new message has begun. */
  reset(): void {
    this.last = Number.NEGATIVE_INFINITY;
  }

  ready(room: string, now: number): boolean {
    if (room === this.room && now - this.last < this.intervalMs) return false;
    this.room = room;
    this.last = now;
    return true;
  }
}
