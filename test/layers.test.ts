import { describe, expect, it } from "vitest";
import { violations } from "../scripts/check-layers.js";

describe("the import rule (npm run lint)", () => {
  it("refuses an import that points up or sideways, and lets one that points down through", () => {
    const files = new Map([
      [
        "src/bus/redis-broker.ts",
        'import { Hub } from "../chat/hub.js";\nimport { RedisLink } from "../redis/redis-link.js";',
      ],
      ["src/presence/redis-presence.ts", 'import { RoomFeed } from "../bus/room-feed.js";'],
      ["src/chat/hub.ts", 'import type { Broker } from "../bus/broker.js";\nexport { x } from "../app.js";'],
    ]);
    expect(violations(files)).toEqual([
      "src/bus/redis-broker.ts: bus may not import from chat (src/chat/hub.js)",
      "src/presence/redis-presence.ts: presence may not import from bus (src/bus/room-feed.js)",
      "src/chat/hub.ts: chat may not import from composition (src/app.js)",
    ]);
  });

  it("lets the web client take the protocol's types, and nothing that would bundle zod", () => {
    const files = new Map([
      ["web/src/a.ts", 'import type { ServerFrame } from "../../src/protocol/frames";'],
      ["web/src/b.ts", 'import { type ServerFrame } from "../../src/protocol/frames";'],
      ["web/src/c.ts", 'import { serverFrames } from "../../src/protocol/frames";'],
      ["web/src/d.ts", 'import { Hub } from "../../src/chat/hub";'],
    ]);
    expect(violations(files)).toEqual([
      "web/src/c.ts: web may not import from protocol (src/protocol/frames) (types only: use 'import type')",
      "web/src/d.ts: web may not import from chat (src/chat/hub)",
    ]);
  });

  it("names a file that belongs to no part", () => {
    expect(violations(new Map([["src/extra/thing.ts", ""]]))).toEqual([
      "src/extra/thing.ts: belongs to no part; add it to PARTS in scripts/check-layers.ts",
    ]);
  });
});
