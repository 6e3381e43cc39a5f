import { createWriteStream } from "node:fs";
import WebSocket from "ws";

/**
 * A node's inspector, over the DevTools protocol: heap snapshots, the
 * sampling heap profiler and the CPU profiler of a server process started with
 * `--inspect=127.0.0.1:<port>`, without changing the server.
 */
export class Inspector {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private onChunk: ((chunk: string) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: { chunk?: string };
      };
      if (msg.method === "HeapProfiler.addHeapSnapshotChunk") this.onChunk?.(msg.params?.chunk ?? "");
      if (msg.id === undefined) return;
      const waiter = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error) waiter?.reject(new Error(msg.error.message));
      else waiter?.resolve(msg.result);
    });
  }

  static async open(port: number): Promise<Inspector> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
      webSocketDebuggerUrl: string;
    }[];
    if (!target) throw new Error(`no inspector target on port ${port}`);
    const ws = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false, maxPayload: 2 ** 30 });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const inspector = new Inspector(ws);
    await inspector.call("HeapProfiler.enable");
    return inspector;
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** A full heap snapshot (after a garbage collection, as DevTools takes it) written to `file`. */
  async snapshot(file: string): Promise<void> {
    const out = createWriteStream(file);
    this.onChunk = (chunk) => out.write(chunk);
    try {
      await this.call("HeapProfiler.collectGarbage");
      await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    } finally {
      this.onChunk = undefined;
      await new Promise((resolve) => out.end(resolve));
    }
  }

  /**
   * Samples allocations until stopSampling, which reports those still on the
   * heap then (live, or garbage no collection has reclaimed yet), or with
   * `collected` every allocation made.
   */
  startSampling(collected: boolean, intervalBytes = 16384): Promise<void> {
    return this.call("HeapProfiler.startSampling", {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: collected,
      includeObjectsCollectedByMinorGC: collected,
    });
  }

  async stopSampling(): Promise<unknown> {
    return ((await this.call("HeapProfiler.stopSampling")) as { profile: unknown }).profile;
  }

  /** A CPU profile of the next `ms` milliseconds (V8's sampling profiler), in the `.cpuprofile` format. */
  async cpuProfile(ms: number): Promise<unknown> {
    await this.call("Profiler.enable");
    await this.call("Profiler.start");
    await new Promise((r) => setTimeout(r, ms));
    return ((await this.call("Profiler.stop")) as { profile: unknown }).profile;
  }

  /** An expression evaluated in the server's main context (with the console's `require`). */
  async evaluate<T>(expression: string): Promise<T> {
    const reply = await this.call<{ result: { value: T }; exceptionDetails?: { text: string } }>("Runtime.evaluate", {
      expression,
      includeCommandLineAPI: true,
      returnByValue: true,
    });
    if (reply.exceptionDetails) throw new Error(`evaluate failed: ${reply.exceptionDetails.text}`);
    return reply.result.value;
  }

  close(): void {
    this.ws.close();
  }
}
