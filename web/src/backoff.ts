const FIRST_DELAY_MS = 500;
/** However often the server refuses, a client tries again at least this often. */
export const MAX_DELAY_MS = 30_000;

/**
 * How long to wait before connecting again after `failures` failed tries in
 * a row: doubling from half a second up to 30 s, and drawn at random from
 * the upper half of that (`random` in [0, 1)), so that a crowd of clients
 * dropped together does not come back together.
 */
export function retryDelay(failures: number, random: number): number {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** failures);
  return ceiling / 2 + (random * ceiling) / 2;
}
