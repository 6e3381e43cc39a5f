import type { Archive } from "./archive.js";

/** How often the archive is searched for messages past RETENTION_DAYS. */
const PURGE_EVERY_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The oldest time (ms) a message is kept at, RETENTION_DAYS counted from now; 0 keeps every message. */
export function retentionCutoff(days: number, now = Date.now()): number {
  return days > 0 ? now - days * DAY_MS : 0;
}

/**
 * RETENTION_DAYS: purges what is past it once at start and then every hour.
 * Between two purges, readers already leave it out (`retentionCutoff`), so
 * the hour is about disk, not about what anyone is shown.
 */
export class Retention {
  private readonly timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly archive: Archive,
    private readonly days: number,
    private readonly onPurged: (result: { messages: number } | { err: unknown }) => void,
  ) {
    if (days <= 0) return;
    this.purge();
    this.timer = setInterval(() => this.purge(), PURGE_EVERY_MS);
    this.timer.unref();
  }

  private purge(): void {
    this.running = this.archive.purge(retentionCutoff(this.days)).then(
      (messages) => this.onPurged({ messages }),
      (err: unknown) => this.onPurged({ err }),
    );
  }

  /** Stops purging; resolves once a purge under way has ended, so the archive can be closed after. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
