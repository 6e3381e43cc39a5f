import { describe, expect, it } from "vitest";
import { markMatches } from "../../web/src/search-box";

describe("the matched words of a search hit", () => {
  it("cuts the text where the server says the query matched, and nowhere else", () => {
    expect(
      markMatches("deploy the build now", [
        [11, 16],
        [0, 6],
      ]),
    ).toEqual([
      { text: "deploy", match: true },
      { text: " the ", match: false },
      { text: "build", match: true },
      { text: " now", match: false },
    ]);
    expect(markMatches("no match here", [])).toEqual([{ text: "no match here", match: false }]);
  });

  it("keeps every character once, whatever the ranges: overlapping, empty, reversed or past the end", () => {
    const text = "<b>Crème</b> brûlée";
    const ranges: [number, number][] = [
      [3, 8],
      [5, 10],
      [4, 4],
      [9, 2],
      [15, 99],
      [-5, 1],
    ];
    const parts = markMatches(text, ranges);
    expect(parts.map((p) => p.text).join("")).toBe(text);
    expect(parts.filter((p) => p.match).map((p) => p.text)).toEqual(["<", "Crème", "</", "ûlée"]);
  });
});
