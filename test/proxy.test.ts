/**
 * The client's address behind the shipped nginx config: what a client writes
 * in X-Forwarded-For changes nothing, so per-address limits hold.
 */
import http from "node:http";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { joinedUser, say } from "./support/chat.js";
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

/** A GET from a chosen loopback address, so that nginx sees another client; resolves with the status. */
function getFrom(localAddress: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
}

describe("deploy/nginx.conf's limits and log", () => {
  it("refuses a flood from one address with 429 while a client at another address chats", async () => {
    const n = await scope.node({ TRUST_PROXY: "true" });
    const nginx = await startNginx({ upstreams: [n.port], sticky: true });
    scope.defer(() => nginx.stop());
    const alice = await joinedUser(nginx.url, { transport: "xhr-polling", localAddress: "127.0.0.21" });
    scope.defer(() => alice.client.close());
    const bob = await joinedUser(nginx.url, { localAddress: "127.0.0.22" });
    scope.defer(() => bob.client.close());

    // Far more at once than the burst of 200 that one address is served.
    const flood = Promise.all(Array.from({ length: 600 }, () => getFrom("127.0.0.20", `${nginx.url}/sock/info`)));
    const said: number[] = [];
    for (let i = 0; i < 5; i++) said.push(await say(alice, `through the flood ${i}`));
    const statuses = await flood;
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    for (const mid of said) await bob.client.action("message", (f) => f.mid === mid);
    // The chatting clients were never refused: a polling one makes a request per message and per poll.
    expect(alice.client.closed).toBeUndefined();
    expect(await getFrom("127.0.0.23", `${nginx.url}/sock/info`)).toBe(200);
  });

  it("writes no token or guest credential to its access log", async () => {
    const secret = "a-test-secret-that-is-long-enough-0123456789";
    const n = await scope.node({ TRUST_PROXY: "true" });
    const nginx = await startNginx({ upstreams: [n.port], sticky: true });
    scope.defer(() => nginx.stop());
    const guest = await joinedUser(nginx.url, { query: "proto=2" });
    const credential = String(guest.guest);
    guest.client.close();
    const token = await new SignJWT({ sub: "u1", name: "Ada" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret));
    for (const transport of ["xhr-polling", "websocket"] as const) {
      const back = await joinedUser(nginx.url, { transport, query: `proto=2&guest=${credential}` });
      expect(back.uid).toBe(guest.uid);
      back.client.close();
    }
    expect(await getFrom("127.0.0.1", `${nginx.url}/sock/info?token=${token}`)).toBe(200);
    await expect.poll(() => nginx.accessLog()).toMatch(/"GET \/sock\/info HTTP/);
    await expect.poll(() => nginx.accessLog()).toMatch(/"GET \/sock\/\d+\/\w+\/websocket HTTP/);
    const log = nginx.accessLog();
    expect(log).toMatch(/"POST \/sock\/\d+\/\w+\/xhr HTTP/);
    expect(log).not.toContain(credential.split(".").at(-1));
    expect(log).not.toContain(token.split(".")[2]);
    expect(log).not.toContain("guest=");
    expect(log).not.toContain("token=");
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
