/**
 * Redis behind a password and behind TLS, as a deployer would run it: the
 * chat reaches it only with the right settings, and says why not otherwise.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { say } from "./support/chat.js";
import { allocatePort } from "./support/ports.js";
import { SERVER_ENTRY } from "./support/processes.js";
import { startCluster, startRedis, startSentinels } from "./support/redis-servers.js";
import { perTest } from "./support/scope.js";

const run = promisify(execFile);
const PASSWORD = "s3cret-for-tests";

const scope = perTest();

/** Two nodes chat through whatever Redis `env` points at. */
async function chatsAcross(env: Record<string, string>): Promise<void> {
  const [a, b] = [await scope.node(env), await scope.node(env)];
  const [onA, onB] = [await scope.user(a), await scope.user(b)];
  const mid = await say(onA, "across the nodes");
  await onB.client.action("message", (f) => f.mid === mid);
  const back = await say(onB, "and back");
  await onA.client.action("message", (f) => f.mid === back);
}

/** Runs a node that must not start, and returns its one line on stderr. */
async function refusedStart(env: Record<string, string>): Promise<string> {
  try {
    await run(process.execPath, [SERVER_ENTRY], {
      env: { ...process.env, PORT: "0", REDIS_CONNECT_TIMEOUT: "2000", ...env },
      timeout: 15_000,
    });
  } catch (err) {
    const { code, stderr } = err as { code: number; stderr: string };
    expect(code).toBe(1);
    return stderr;
  }
  throw new Error("the node started");
}

/** A CA and a certificate for 127.0.0.1 signed by it, made for this run. */
async function certificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const file = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  await ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=chat test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  );
  await ssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "redis.key",
    "-out",
    "redis.csr",
  );
  writeFileSync(file("san.cnf"), "subjectAltName=IP:127.0.0.1\n");
  await ssl(
    "x509",
    "-req",
    "-in",
    "redis.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "san.cnf",
    "-out",
    "redis.crt",
  );
  return { ca: file("ca.crt"), cert: file("redis.crt"), key: file("redis.key") };
}

describe("Redis over TLS (rediss://)", () => {
  it("chats across nodes through a TLS-only Redis whose CA the nodes trust, and refuses one they do not", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "chat-tls-"));
    scope.defer(() => rmSync(dir, { recursive: true, force: true }));
    const { ca, cert, key } = await certificates(dir);
    const tlsPort = await allocatePort();
    const redis = await startRedis([
      "--port",
      "0",
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      cert,
      "--tls-key-file",
      key,
      "--tls-ca-cert-file",
      ca,
      "--tls-auth-clients",
      "no",
    ]);
    scope.defer(() => redis.stop());
    const url = `rediss://127.0.0.1:${tlsPort}`;
    // Node's own way to trust an extra CA: nothing of the chat's configuration changes.
    await chatsAcross({ REDIS_URL: url, NODE_EXTRA_CA_CERTS: ca });
    expect(await refusedStart({ REDIS_URL: url })).toMatch(/not reachable within 2000 ms.*certificate/);
    // Plain redis:// to a TLS port gets no answer it can read.
    expect(await refusedStart({ REDIS_URL: `redis://127.0.0.1:${tlsPort}` })).toMatch(/not reachable/);
  });
});

describe("a Redis that requires a password", () => {
  it("Sentinel: the primary, the replica and the sentinels' view of them all take REDIS_PASSWORD", async () => {
    const setup = await startSentinels({ password: PASSWORD });
    scope.defer(() => setup.stop());
    const env = { REDIS_SENTINELS: setup.addresses, REDIS_SENTINEL_NAME: setup.name };
    await chatsAcross({ ...env, REDIS_PASSWORD: PASSWORD });
    expect(await refusedStart(env)).toMatch(/NOAUTH|Authentication required/);
    expect(await refusedStart({ ...env, REDIS_PASSWORD: "wrong-password" })).toMatch(/WRONGPASS|invalid/);
  });

  it("Cluster: every shard takes REDIS_PASSWORD", async () => {
    const cluster = await startCluster(3, { password: PASSWORD });
    scope.defer(() => cluster.stop());
    const env = { REDIS_CLUSTER_NODES: cluster.seeds };
    await chatsAcross({ ...env, REDIS_PASSWORD: PASSWORD });
    expect(await refusedStart(env)).toMatch(/not reachable/);
  });
});
