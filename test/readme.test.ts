import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { SERVER_ENTRY } from "./support/processes.js";

it("documents in the README every variable --help prints, with the same defaults", () => {
  const help = execFileSync(process.execPath, [SERVER_ENTRY, "--help"], { encoding: "utf8" });
  const fromHelp = [...help.matchAll(/^ {2}([A-Z_]+) +.*\(default: (.*)\)$/gm)].map((m) => [m[1], m[2]]);
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const fromReadme = [...readme.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2]?.trim()]);
  expect(fromHelp.length).toBeGreaterThan(20);
  expect(fromReadme).toEqual(fromHelp);
});

it("rejects a bad value with one line naming it, and exit 1", () => {
  let failure: { status: number; stderr: string } | undefined;
  try {
    execFileSync(process.execPath, [SERVER_ENTRY], {
      env: { ...process.env, PORT: "70000" },
      encoding: "utf8",
      stdio: "pipe",
    });
  } catch (err) {
    failure = err as { status: number; stderr: string };
  }
  expect(failure?.status).toBe(1);
  expect(failure?.stderr.trim().split("\n")).toHaveLength(1);
  expect(failure?.stderr).toMatch(/^configuration error: PORT="70000"/);
});
