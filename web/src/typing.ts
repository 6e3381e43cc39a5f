/** Who is typing in each room; an entry lapses unless a new `typing` renews it. */
export class TypingTracker {
  private readonly rooms = new Map<string, Map<string, { name: string; timer: number }>>();

  constructor(
    private readonly ttlMs: number,
    private readonly changed: (room: string) => void,
  ) {}

  note(room: string, id: string, name: string): void {
    const typists = this.rooms.get(room) ?? new Map<string, { name: string; timer: number }>();
    this.rooms.set(room, typists);
    window.clearTimeout(typists.get(id)?.timer);
    typists.set(id, { name, timer: window.setTimeout(() => this.clear(room, id), this.ttlMs) });
    this.changed(room);
  }

  clear(room: string, id: string): void {
    const typists = this.rooms.get(room);
    const entry = typists?.get(id);
    if (!typists || !entry) return;
    window.clearTimeout(entry.timer);
    typists.delete(id);
    this.changed(room);
  }

  clearRoom(room: string): void {
    for (const id of [...(this.rooms.get(room)?.keys() ?? [])]) this.clear(room, id);
  }

  names(room: string): string[] {
    return [...(this.rooms.get(room)?.values() ?? [])].map((t) => t.name);
  }
}

export function typingText(names: string[]): string {
  const [a, b] = names;
  if (a === undefined) return "";
  if (b === undefined) return `${a} is typing…`;
  if (names.length === 2) return `${a} and ${b} are typing…`;
  return "Several people are typing…";
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
