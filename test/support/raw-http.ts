import net from "node:net";

/**
 * HTTP/1.1 over a bare socket, for tests that must see what a library would
 * hide: each chunk of a chunked body as the server wrote it, the exact
 * headers, and whether the server closes the socket.
 */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The next chunk of the body; "" once the body (or the socket) has ended. */
  chunk(timeoutMs?: number): Promise<string>;
  /** Every remaining chunk until the body ends. */
  rest(timeoutMs?: number): Promise<string[]>;
  /** Resolves true once the server has closed the socket. */
  closedByServer(timeoutMs?: number): Promise<boolean>;
  /** Stops reading from the socket, as a client that hung would. */
  pause(): void;
  resume(): void;
  destroy(): void;
}

export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body = "",
): Promise<RawResponse> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let buffer = Buffer.alloc(0);
  let ended = false;
  const wake: (() => void)[] = [];
  const notify = () => {
    for (const w of wake.splice(0)) w();
  };
  socket.on("data", (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  socket.on("error", () => undefined);
  const lines = [`${method} ${pathname}${search} HTTP/1.1`];
  // A test may claim another host (DNS rebinding), which fetch() would not let it.
  if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) lines.push(`Host: ${hostname}:${port}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== "" || method === "POST") lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n${body}`);

  const until = async (ready: () => boolean, timeoutMs: number, what: string) => {
    const end = Date.now() + timeoutMs;
    while (!ready()) {
      if (ended) return false;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  };

  return (async () => {
    await until(() => buffer.includes("\r\n\r\n"), 5000, "the response headers");
    const at = buffer.indexOf("\r\n\r\n");
    const [statusLine = "", ...headerLines] = buffer.subarray(0, at).toString("latin1").split("\r\n");
    buffer = buffer.subarray(at + 4);
    const parsed: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      parsed[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const chunked = parsed["transfer-encoding"] === "chunked";
    let lengthLeft =
      parsed["content-length"] === undefined ? Number.POSITIVE_INFINITY : Number(parsed["content-length"]);
    let bodyDone = false;

    const chunk = async (timeoutMs = 3000): Promise<string> => {
      if (bodyDone) return "";
      if (!chunked) {
        if (lengthLeft === 0) {
          bodyDone = true;
          return "";
        }
        if (!(await until(() => buffer.length > 0, timeoutMs, "body bytes"))) return "";
        const take = buffer.subarray(0, Math.min(buffer.length, lengthLeft));
        buffer = buffer.subarray(take.length);
        lengthLeft -= take.length;
        return take.toString("utf8");
      }
      if (!(await until(() => buffer.includes("\r\n"), timeoutMs, "a chunk header"))) return "";
      const nl = buffer.indexOf("\r\n");
      const size = Number.parseInt(buffer.subarray(0, nl).toString("latin1"), 16);
      if (!(await until(() => buffer.length >= nl + 2 + size + 2, timeoutMs, "a chunk"))) return "";
      const data = buffer.subarray(nl + 2, nl + 2 + size).toString("utf8");
      buffer = buffer.subarray(nl + 2 + size + 2);
      if (size === 0) bodyDone = true;
      return data;
    };

    return {
      status: Number(statusLine.split(" ")[1]),
      headers: parsed,
      chunk,
      rest: async (timeoutMs = 3000) => {
        const all: string[] = [];
        for (let c = await chunk(timeoutMs); c !== ""; c = await chunk(timeoutMs)) all.push(c);
        return all;
      },
      closedByServer: (timeoutMs = 3000) => until(() => false, timeoutMs, "the server to close").then(() => ended),
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      destroy: () => socket.destroy(),
    };
  })();
}

/** A request a slow or hostile client keeps open: it sends what it was given and nothing more. */
export interface HeldRequest {
  /** The status line's code once the server answers; undefined if it closed without an answer. */
  answered(timeoutMs?: number): Promise<number | undefined>;
  /** Resolves once the server has closed the socket. */
  closed(timeoutMs?: number): Promise<void>;
  destroy(): void;
}

/**
 * Opens a socket and writes `head` (request line and headers, as many as
 * the caller wants sent) and then `body`, and never the rest.
 */
export async function holdRequest(url: string, head: string, body = ""): Promise<HeldRequest> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  let received = "";
  let ended = false;
  const wake: (() => void)[] = [];
  const notify = () => {
    for (const w of wake.splice(0)) w();
  };
  socket.on("data", (d: Buffer) => {
    received += d.toString("latin1");
    notify();
  });
  socket.on("close", () => {
    ended = true;
    notify();
  });
  socket.write(head + body);
  const until = async (ready: () => boolean, timeoutMs: number, what: string) => {
    const end = Date.now() + timeoutMs;
    while (!ready()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return {
    answered: async (timeoutMs = 5000) => {
      await until(() => ended || received.includes("\r\n"), timeoutMs, "an answer");
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
      return status === undefined ? undefined : Number(status);
    },
    closed: (timeoutMs = 5000) => until(() => ended, timeoutMs, "the server to close"),
    destroy: () => socket.destroy(),
  };
}
