import { describe, expect, it } from "vitest";
import { formatRoute, parseRoute, type Route, routeUrl } from "../../web/src/routes";

describe("the links of the web client (#/room, #/dm)", () => {
  it("reads a room, a message of a room and a conversation", () => {
    expect(parseRoute("#/room/dev")).toEqual({ kind: "room", room: "dev" });
    expect(parseRoute("#/room/dev/42")).toEqual({ kind: "room", room: "dev", mid: 42 });
    expect(parseRoute("#/dm/g-Vb7nR2kq9sLdE4tYh0uXwQ")).toEqual({ kind: "dm", uid: "g-Vb7nR2kq9sLdE4tYh0uXwQ" });
    // Room ids are folded like the join form folds them; the server folds them the same way.
    expect(parseRoute("#/room/Dev")).toEqual({ kind: "room", room: "dev" });
    expect(parseRoute("/room/design-team")).toEqual({ kind: "room", room: "design-team" });
    expect(parseRoute("#/room/design-team~k2v9x0q4m7zt/9")).toEqual({
      kind: "room",
      room: "design-team~k2v9x0q4m7zt",
      mid: 9,
    });
  });

  it("gives back exactly the route it wrote, escapes and all", () => {
    const routes: Route[] = [
      { kind: "room", room: "dev" },
      { kind: "room", room: "équipe_1", mid: 7 },
      { kind: "dm", uid: "auth0|5f/2a?x#y" },
      { kind: "dm", uid: "a-x%41" },
      { kind: "dm", uid: "g-1", mid: 12 },
    ];
    for (const route of routes) expect(parseRoute(formatRoute(route))).toEqual(route);
    expect(routeUrl({ kind: "room", room: "dev", mid: 3 }, "http://chat.test/?transport=websocket#/dm/x")).toBe(
      "http://chat.test/?transport=websocket#/room/dev/3",
    );
  });

  it("refuses whole anything that is not a plausible room, message or person", () => {
    const refused = [
      "",
      "#",
      "#/",
      "#reset=abc",
      "#invite=abc",
      "#/room",
      "#/room/",
      "#/room/dev/",
      "#/room/dev/0",
      "#/room/dev/-1",
      "#/room/dev/1.5",
      "#/room/dev/1e3",
      "#/room/dev/0x10",
      "#/room/dev/12345678901234567",
      "#/room/dev/4/5",
      "#/room/-dev",
      "#/room/~k2v9x0q4m7zt",
      "#/room/dev~",
      "#/room/dev~a~b",
      "#/room/a b",
      "#/room/<img src=x onerror=alert(1)>",
      "#/room/%3Cscript%3E",
      "#/room/%E0%A4%A",
      "#/room/dev%2F4",
      `#/room/${"a".repeat(129)}`,
      "#/room/dev\u202e",
      "#/dm/",
      "#/dm/a b",
      "#/dm/a%0Ab",
      "#/dm/a\u200bb",
      "#/dm/x/0",
      `#/dm/${"u".repeat(129)}`,
      "#/rooms/dev",
      "#/ROOM/dev",
      "#//dev",
    ];
    for (const hash of refused) expect(parseRoute(hash), hash).toBeNull();
  });
});
