import { afterEach, expect } from "vitest";
import { type ServerAction, serverFrames } from "../../src/protocol/frames.js";

/**
 * Every frame a test client receives is checked against the protocol's one
 * definition (src/protocol/frames.ts); a test whose server sent a frame that
 * breaks it fails, whatever the test itself looked at.
 */
const violations: string[] = [];

export function checkServerFrame(text: string): void {
  const frame = JSON.parse(text) as { action?: unknown };
  const action = String(frame.action);
  if (!Object.hasOwn(serverFrames, action)) {
    violations.push(`unknown action: ${text.slice(0, 200)}`);
    return;
  }
  const result = serverFrames[action as ServerAction].safeParse(frame);
  if (!result.success) violations.push(`${result.error.issues[0]?.message} in ${text.slice(0, 200)}`);
}

afterEach(() => {
  const found = violations.splice(0);
  expect(found, "frames that break src/protocol/frames.ts").toEqual([]);
});
