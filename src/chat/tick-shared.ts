/**
 * One read shared by every caller that asks for the same thing (by key)
 * within one turn of the event loop. The read begins once the turn is over
 * (setImmediate), after the last of them asked, so each caller gets an answer
 * at least as fresh as a read of its own would have been; a burst of joins of
 * one room then reads the room once, not once per joiner.
 */
export class TickShared<T> {
  private readonly pending = new Map<string, Promise<T>>();

  get(key: string, read: () => Promise<T>): Promise<T> {
    const waiting = this.pending.get(key);
    if (waiting) return waiting;
    const shared = new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        this.pending.delete(key);
        try {
          read().then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      });
    });
    this.pending.set(key, shared);
    return shared;
  }
}
