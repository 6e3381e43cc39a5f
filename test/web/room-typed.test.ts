import { describe, expect, it } from "vitest";
import { roomTyped } from "../../web/src/room-controls";

describe("what the join box makes of what is typed", () => {
  it("takes a room as people write it: its mark, accents, case and spaces", () => {
    expect(roomTyped("#dev")).toBe("dev");
    expect(roomTyped("  ##Dev ")).toBe("dev");
    expect(roomTyped("Café Talk")).toBe("cafe-talk");
    expect(roomTyped("Design   Team")).toBe("design-team");
    expect(roomTyped("design-team~k2v9x0q4m7zt")).toBe("design-team~k2v9x0q4m7zt");
    expect(roomTyped("snake_case")).toBe("snake_case");
    // What is no room id stays as it was typed, for the server to say why.
    expect(roomTyped("a/b")).toBe("a/b");
  });
});
