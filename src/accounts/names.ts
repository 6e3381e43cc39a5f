import { foldName } from "../protocol/rules.js";

/**
 * Letters that draw like a Latin one (Unicode TS 39's confusables, the ones
 * a name is likely to be faked with): Cyrillic and Greek look-alikes, and
 * the digits and signs that pass for l and o.
 */
const LOOK_ALIKES: Record<string, string> = {
  а: "a",
  в: "b",
  е: "e",
  ё: "e",
  к: "k",
  м: "m",
  н: "h",
  о: "o",
  р: "p",
  с: "c",
  т: "t",
  у: "y",
  х: "x",
  і: "i",
  ї: "i",
  ј: "j",
  ѕ: "s",
  ԁ: "d",
  һ: "h",
  ԛ: "q",
  ԝ: "w",
  ӏ: "l",
  α: "a",
  β: "b",
  ε: "e",
  η: "n",
  ι: "i",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  ϲ: "c",
  "0": "o",
  "1": "l",
  "|": "l",
  ı: "i",
};

/**
 * What account names are compared by, so that no one can take a name that
 * reads as another's: the chat's own folding (NFKC, lower case), look-alike
 * letters made one, `i` read as `l` (`I` and `l` draw alike in most fonts),
 * `rn` as `m`, and spaces, dots, dashes and underscores dropped.
 */
export function accountKey(name: string): string {
  let out = "";
  for (const ch of foldName(name)) out += LOOK_ALIKES[ch] ?? ch;
  return out
    .replace(/[\s._-]+/gu, "")
    .replace(/rn/g, "m")
    .replace(/i/g, "l");
}
