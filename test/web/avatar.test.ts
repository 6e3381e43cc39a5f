import { describe, expect, it } from "vitest";
import { AVATAR_COLOURS } from "../../src/protocol/profile";
import { defaultColour, initials, PALETTE } from "../../web/src/avatar";

describe("avatars", () => {
  it("take the first letters of the first two words, whatever the script, and never nothing", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("  grace   brewster murray hopper ")).toBe("GB");
    expect(initials("émile")).toBe("É");
    expect(initials("Ζωή Παπαδοπούλου")).toBe("ΖΠ");
    // A letter outside the Basic Multilingual Plane is one letter, not half of one.
    expect(initials("𝒜da 🧮")).toBe("𝒜🧮");
    expect(initials("   ")).toBe("?");
  });

  it("give each uid the same colour of the palette every time, spread over all of it", () => {
    expect(PALETTE).toHaveLength(AVATAR_COLOURS);
    const uids = Array.from({ length: 400 }, (_, i) => `a-${i.toString(36)}x${(i * 7919).toString(36)}`);
    const colours = uids.map(defaultColour);
    expect(uids.map(defaultColour)).toEqual(colours);
    expect(new Set(colours)).toEqual(new Set(PALETTE.map((_, i) => i)));
  });
});
