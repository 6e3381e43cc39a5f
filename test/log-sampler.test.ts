import { expect, it } from "vitest";
import { LogSampler } from "../src/transport/log-sampler.js";

it("logs the first event of each kind, then one per interval with the number left unlogged", () => {
  const sampler = new LogSampler(10_000);
  expect(sampler.take("origin", 0)).toBe(0);
  expect(sampler.take("origin", 1)).toBeUndefined();
  expect(sampler.take("origin", 9_999)).toBeUndefined();
  // Another kind has its own interval.
  expect(sampler.take("session_id", 5)).toBe(0);
  expect(sampler.take("origin", 10_000)).toBe(2);
  expect(sampler.take("origin", 10_001)).toBeUndefined();
  expect(sampler.take("origin", 25_000)).toBe(1);
});
