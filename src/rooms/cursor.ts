/** A page's `next`: the sort key and id of its last item, opaque to clients. */
export function encodeCursor(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString("base64url");
}

/** The key and id a `next` holds; undefined for one this server did not make (the list starts over). */
export function decodeCursor(cursor: string | undefined): [string, string] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string")) {
      return [value[0] as string, value[1] as string];
    }
  } catch {
    // not a cursor of ours
  }
  return undefined;
}

/** What names are sorted and searched by: case and compatibility forms folded. */
export const nameKey = (name: string): string => name.normalize("NFKC").toLowerCase();
