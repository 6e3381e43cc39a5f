import { describe, expect, it } from "vitest";
import { type Draft, Drafts } from "../../web/src/drafts";

describe("Drafts", () => {
  it("gives a draft back only to the place it was typed in", () => {
    const drafts = new Drafts();
    drafts.keep("@u1", "private words", "Grace");
    expect(drafts.text("@u1")).toBe("private words");
    expect(drafts.text("lobby")).toBe("");
    expect(drafts.title("@u1")).toBe("Grace");
  });

  it("forgets a place's draft once it is emptied (sent or cleared)", () => {
    const drafts = new Drafts();
    drafts.keep("lobby", "hello", "lobby");
    drafts.keep("lobby", "", "lobby");
    expect(drafts.keys()).toEqual([]);
  });

  it("keeps every change for a reload, and takes back what was kept", () => {
    let kept: Record<string, Draft> = {};
    const drafts = new Drafts({}, (all) => {
      kept = all;
    });
    drafts.keep("@u1", "to Grace", "Grace");
    drafts.keep("room", "to the room", "room");
    const again = new Drafts(kept);
    expect(again.text("@u1")).toBe("to Grace");
    expect(again.text("room")).toBe("to the room");
  });

  it("does not keep empty drafts it is handed", () => {
    expect(new Drafts({ lobby: { text: "", title: "lobby" } }).keys()).toEqual([]);
  });
});
