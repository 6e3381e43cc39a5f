/**
 * The seed of a randomised test: FUZZ_SEED from the environment to replay a
 * run, a fresh one otherwise, printed either way so that a failure can be
 * replayed with `FUZZ_SEED=<seed> npx vitest run <file>`.
 */
export function testSeed(what: string): number {
  const given = process.env.FUZZ_SEED;
  const seed = given === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(given);
  console.log(`${what}: seed ${seed} (replay with FUZZ_SEED=${seed})`);
  return seed;
}

/** A small, fast, seedable generator (mulberry32): the same seed gives the same numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
