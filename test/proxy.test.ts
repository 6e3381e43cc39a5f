/**
 * The client's address behind the shipped nginx config: what a client writes
 * in X-Forwarded-For changes nothing, so per-address limits hold.
 */
import { describe, expect, it } from "vitest";
import { type Nginx, startNginx } from "./support/nginx.js";
import { perTest } from "./support/scope.js";
import { SockClient } from "./support/sockjs-client.js";

const scope = perTest();

/** Opens a websocket connection claiming to come from `claimed`, and returns the server's first verdict. */
async function connect(base: string, claimed: string): Promise<string> {
  const c = await SockClient.connect(base, { headers: { "X-Forwarded-For": claimed } });
  scope.defer(() => c.close());
  const first = await c.next((f) => f.action === "user_info" || f.action === "error");
  return first.action === "error" ? String(first.code) : "admitted";
}

describe("behind deploy/nginx.conf", () => {
  it("counts every client by the address nginx saw, whatever X-Forwarded-For it sends", async () => {
    const n = await scope.node({ TRUST_PROXY: "true", MAX_CONNECTIONS_PER_IP: "2" });
    const nginx: Nginx = await startNginx({ upstreams: [n.port], sticky: true });
    scope.defer(() => nginx.stop());
    const verdicts: string[] = [];
    for (const claimed of ["10.0.0.1", "10.0.0.2", "10.0.0.3, 10.0.0.4", "203.0.113.9"]) {
      verdicts.push(await connect(nginx.url, claimed));
    }
    expect(verdicts).toEqual(["admitted", "admitted", "too_many_connections", "too_many_connections"]);
    const opened = n
      .output()
      .split("\n")
      .filter((l) => l.includes("connection opened"));
    for (const line of opened) expect(JSON.parse(line).addr).toBe("127.0.0.1");
  });
});

describe("TRUST_PROXY", () => {
  it("takes the hop that many proxies from the right, and only that", async () => {
    const cases: [string, string][] = [
      ["false", "127.0.0.1"],
      ["true", "198.51.100.2"],
      ["2", "198.51.100.1"],
      ["3", "127.0.0.1"],
    ];
    for (const [trust, expected] of cases) {
      const n = await scope.node({ TRUST_PROXY: trust });
      await connect(n.url, "198.51.100.1, 198.51.100.2");
      await n.waitForOutput(/connection opened/);
      const line = n
        .output()
        .split("\n")
        .find((l) => l.includes("connection opened")) as string;
      expect(JSON.parse(line).addr, `TRUST_PROXY=${trust}`).toBe(expected);
    }
  });
});
