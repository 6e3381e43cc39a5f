import net from "node:net";

/**
 * What the relay does with the bytes of its connections: pass them, or drop
 * them without a word (a Wi-Fi gone, a NAT that forgot the flow), both ways
 * or only the server's replies.
 */
export type RelayMode = "pass" | "silent" | "no-replies";

export interface TcpRelay {
  /** http://127.0.0.1:port: where a browser reaches the target through the relay. */
  readonly url: string;
  /**
   * From now on, the connections open now drop what `mode` says; new ones
   * get the mode in force when they are made. Back to "pass", the silenced
   * ones are reset, as a router that forgot their flows answers their next
   * packet: they never carry anything again.
   */
  set(mode: RelayMode): void;
  /** Resets every connection open now, as a proxy that restarts does; new ones pass again. */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP relay in front of `targetPort` that a test can tell to stop forwarding, without closing anything. */
export async function startRelay(targetPort: number): Promise<TcpRelay> {
  let mode: RelayMode = "pass";
  const open = new Set<{ setMode(m: RelayMode): void; silenced(): boolean; destroy(): void }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    let own = mode;
    client.on("data", (chunk) => {
      if (own !== "silent") upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (own === "pass") client.write(chunk);
    });
    const conn = {
      setMode: (m: RelayMode) => {
        own = m;
      },
      silenced: () => own !== "pass",
      destroy: () => {
        client.destroy();
        upstream.destroy();
      },
    };
    open.add(conn);
    const end = () => {
      open.delete(conn);
      conn.destroy();
    };
    client.on("close", () => open.delete(conn));
    // A silent link tells neither end that the other closed: that is what makes it silent.
    client.on("close", () => {
      if (own === "pass") end();
    });
    upstream.on("close", () => {
      if (own === "pass") end();
    });
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    set(next) {
      mode = next;
      if (next !== "pass") for (const conn of open) conn.setMode(next);
      else {
        for (const conn of open) if (conn.silenced()) conn.destroy();
      }
    },
    cut() {
      for (const conn of open) conn.destroy();
      open.clear();
    },
    close: async () => {
      for (const conn of open) conn.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
