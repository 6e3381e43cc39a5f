import { describe, expect, it } from "vitest";
import { MAX_DELAY_MS, retryDelay } from "../../web/src/backoff";

describe("retryDelay", () => {
  it("doubles with each failure in a row, from half a second", () => {
    expect([0, 1, 2, 3].map((n) => retryDelay(n, 0.999_999))).toEqual(
      [500, 1000, 2000, 4000].map((ms) => expect.closeTo(ms, 0)),
    );
  });

  it("waits at most 30 s however long the server refuses", () => {
    expect(retryDelay(50, 0.999_999)).toBeLessThanOrEqual(MAX_DELAY_MS);
    expect(retryDelay(50, 0.999_999)).toBeGreaterThan(MAX_DELAY_MS - 1);
  });

  it("spreads a crowd over the upper half of the wait", () => {
    expect(retryDelay(4, 0)).toBe(4000);
    expect(retryDelay(4, 0.5)).toBe(6000);
  });
});
