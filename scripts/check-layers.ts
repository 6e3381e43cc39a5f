/**
 * The import rule of docs/architecture.md, checked: each part of the code
 * imports only from itself and from the parts below it, so that the layers
 * can be read, tested and replaced from the bottom up. `npm run lint` runs
 * this; an import that points up (or sideways) fails it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export interface Part {
  name: string;
  /** Folders (ending in /) or files, relative to the repository. */
  holds: string[];
  /** The parts it may import from, besides itself; "*" for any. */
  may: string[] | "*";
  /** Parts it may import types from and nothing else (the web client keeps zod out of its bundle). */
  typesOnly?: string[];
}

export const PARTS: Part[] = [
  { name: "protocol", holds: ["src/protocol/"], may: [] },
  { name: "ids", holds: ["src/ids/"], may: [] },
  { name: "transport", holds: ["src/transport/"], may: [] },
  { name: "redis", holds: ["src/redis/"], may: [] },
  { name: "archive", holds: ["src/archive/"], may: [] },
  { name: "bus", holds: ["src/bus/"], may: ["ids", "redis", "archive"] },
  { name: "presence", holds: ["src/presence/"], may: ["ids", "redis"] },
  { name: "users", holds: ["src/users/"], may: ["redis", "archive"] },
  { name: "accounts", holds: ["src/accounts/"], may: ["protocol", "redis", "archive"] },
  { name: "rooms", holds: ["src/rooms/"], may: ["protocol", "redis", "archive"] },
  { name: "chat", holds: ["src/chat/"], may: ["protocol", "ids", "transport", "bus", "presence", "users", "rooms"] },
  { name: "http", holds: ["src/http/"], may: ["accounts", "transport"] },
  {
    name: "edge",
    holds: ["src/config.ts", "src/log.ts", "src/metrics.ts", "src/quiet-collector.ts", "src/young-generation.ts"],
    may: ["chat"],
  },
  {
    name: "composition",
    holds: ["src/app.ts", "src/backends.ts", "src/server.ts", "src/admin.ts", "src/account-settings.ts"],
    may: "*",
  },
  { name: "web", holds: ["web/src/"], may: [], typesOnly: ["protocol"] },
  { name: "bench", holds: ["bench/"], may: [] },
  { name: "scripts", holds: ["scripts/"], may: ["transport"] },
  { name: "test", holds: ["test/", "vitest.config.ts"], may: "*" },
];

const stem = (file: string) => file.replace(/\.(ts|js|mts|mjs)$/, "");

function partOf(file: string): Part | undefined {
  return PARTS.find((p) => p.holds.some((h) => (h.endsWith("/") ? file.startsWith(h) : stem(file) === stem(h))));
}

/** Relative imports and re-exports of one file: where each points, and whether it brings types alone. */
export function importsOf(file: string, text: string): { target: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const found: { target: string; typeOnly: boolean }[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      const clause = statement.importClause;
      const named = clause?.namedBindings;
      typeOnly =
        clause?.isTypeOnly === true ||
        (clause?.name === undefined &&
          named !== undefined &&
          ts.isNamedImports(named) &&
          named.elements.length > 0 &&
          named.elements.every((e) => e.isTypeOnly));
    } else if (ts.isExportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.isTypeOnly;
    }
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith(".")) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier.text));
    found.push({ target, typeOnly });
  }
  return found;
}

/** Every import that breaks the rule, as `file: why`. */
export function violations(files: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of files) {
    const from = partOf(file);
    if (!from) {
      out.push(`${file}: belongs to no part; add it to PARTS in scripts/check-layers.ts`);
      continue;
    }
    for (const { target, typeOnly } of importsOf(file, text)) {
      const to = partOf(target);
      if (!to) {
        out.push(`${file}: imports ${target}, which belongs to no part`);
        continue;
      }
      if (to === from || from.may === "*" || from.may.includes(to.name)) continue;
      if (typeOnly && from.typesOnly?.includes(to.name)) continue;
      const allowed = from.typesOnly?.includes(to.name) ? ` (types only: use 'import type')` : "";
      out.push(`${file}: ${from.name} may not import from ${to.name} (${target})${allowed}`);
    }
  }
  return out;
}

function sources(dir: string, root: string, into: Map<string, string>): void {
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = path.posix.join(dir, name);
    if (name === "node_modules" || name === "results") continue;
    if (statSync(path.join(root, rel)).isDirectory()) sources(rel, root, into);
    else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith(".d.ts"))
      into.set(rel, readFileSync(path.join(root, rel), "utf8"));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const files = new Map<string, string>();
  for (const dir of ["src", "web/src", "bench", "scripts", "test"]) sources(dir, root, files);
  const found = violations(files);
  for (const line of found) process.stderr.write(`${line}\n`);
  if (found.length > 0) {
    process.stderr.write(`${found.length} import(s) against the layers of docs/architecture.md\n`);
    process.exit(1);
  }
  process.stdout.write(`layers: ${files.size} files, every import points down\n`);
}
