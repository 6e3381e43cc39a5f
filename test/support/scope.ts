import { afterAll, afterEach } from "vitest";
import { connectUser, joinedUser, type User } from "./chat.js";
import { type NodeProcess, startNode } from "./processes.js";
import { type RedisProcess, startRedis } from "./redis-servers.js";

/**
 * What a test starts, stopped in reverse order when it ends. Each thing is
 * registered the moment it exists, so a test that fails half-way leaks nothing
 * into the next one.
 */
export class Scope {
  private readonly cleanups: (() => unknown)[] = [];

  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  async node(env: Record<string, string> = {}, port?: number): Promise<NodeProcess> {
    const n = await startNode(env, port);
    this.defer(() => n.stop());
    return n;
  }

  async redis(args: string[] = []): Promise<RedisProcess> {
    const r = await startRedis(args);
    this.defer(() => r.stop());
    return r;
  }

  /** Without a query, a user already in the lobby; with one, connected with it and nothing more. */
  async user(n: NodeProcess, query?: string): Promise<User> {
    const u = query === undefined ? await joinedUser(n.url) : await connectUser(n.url, { query });
    this.defer(() => u.client.close());
    return u;
  }

  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c();
  }
}

/** A scope that ends with each test. */
export function perTest(): Scope {
  const scope = new Scope();
  afterEach(() => scope.close());
  return scope;
}

/** A scope that ends with the file, for what its tests share. */
export function perFile(): Scope {
  const scope = new Scope();
  afterAll(() => scope.close());
  return scope;
}
