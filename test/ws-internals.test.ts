/**
 * The private parts of `ws` the transport stands on, each checked against a
 * real ws server and real sockets, so that a `ws` upgrade that changes them
 * fails here and not in production:
 * - the server builds the class given as `WebSocket` and reports every event
 *   by calling that instance's own `emit`, with no listener registered
 *   (websocket-peer.ts overrides `emit` instead of listening);
 * - a PreparedFrame (framed by ws-frames.ts, not by ws) is a frame ws's client reads;
 * - `_sender.sendFrame` puts given bytes on the socket as they are, and
 *   `bufferedAmount` counts them (the slow-consumer check reads it).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { type RawData, WebSocketServer } from "ws";
import { PeerSocket, type WebsocketPeer } from "../src/transport/websocket-peer.js";
import { PreparedFrame, writePrepared } from "../src/transport/ws-frames.js";

/** What the override hands its peer, as a peer would see it. */
class Recorder {
  readonly data: { text: string; isBinary: boolean }[] = [];
  gone = 0;
  awaitingPong = false;
  private wake: (() => void)[] = [];

  onData(data: RawData, isBinary: boolean): void {
    this.data.push({ text: data.toString(), isBinary });
    this.notify();
  }

  onGone(): void {
    this.gone++;
    this.notify();
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }

  async until(ready: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 5000;
    while (!ready()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

interface Accepted {
  socket: PeerSocket;
  recorder: Recorder;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A ws server configured as sockjs-server.ts configures it; each accepted socket gets a Recorder as its peer. */
async function startServer(): Promise<{ url: string; port: number; accepted: Promise<Accepted> }> {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: PeerSocket,
  });
  const server = http.createServer();
  const accepted = new Promise<Accepted>((resolve) => {
    server.on("upgrade", (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const recorder = new Recorder();
        const peerSocket = ws as PeerSocket;
        peerSocket.peer = recorder as unknown as WebsocketPeer;
        resolve({ socket: peerSocket, recorder });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, port, accepted };
}

async function connect(url: string): Promise<WebSocket> {
  const client = new WebSocket(url);
  cleanups.push(() => client.terminate());
  await new Promise((resolve, reject) => {
    client.once("open", resolve);
    client.once("error", reject);
  });
  return client;
}

describe("ws hands every event to the overridden emit", () => {
  it("builds our class, and delivers text, binary, pong and close through emit alone", async () => {
    const { url, accepted } = await startServer();
    const client = await connect(url);
    const { socket, recorder } = await accepted;
    expect(socket).toBeInstanceOf(PeerSocket);
    // Nothing listens: every event below reaches the peer only through the override.
    expect(socket.eventNames()).toEqual([]);

    client.send("hello");
    client.send(Buffer.from("bytes"), { binary: true });
    await recorder.until(() => recorder.data.length === 2, "two messages");
    expect(recorder.data).toEqual([
      { text: "hello", isBinary: false },
      { text: "bytes", isBinary: true },
    ]);

    recorder.awaitingPong = true;
    socket.ping();
    await recorder.until(() => !recorder.awaitingPong, "the pong");

    client.close(1000);
    await recorder.until(() => recorder.gone > 0, "the close");
    expect(recorder.gone).toBe(1);
  });

  it("reports a protocol error without a listener, then the close, and the process goes on", async () => {
    const { port, accepted } = await startServer();
    const raw = net.connect(port, "127.0.0.1");
    cleanups.push(() => raw.destroy());
    await new Promise((resolve) => raw.once("connect", resolve));
    raw.write(
      [
        "GET / HTTP/1.1",
        `Host: 127.0.0.1:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        "",
        "",
      ].join("\r\n"),
    );
    const { socket, recorder } = await accepted;
    let answer = Buffer.alloc(0);
    raw.on("data", (d: Buffer) => {
      answer = Buffer.concat([answer, d]);
      // Once ws's close frame (opcode 8) follows the handshake, the client lets go, as a browser would.
      const frameAt = answer.indexOf("\r\n\r\n") + 4;
      if (frameAt >= 4 && answer.length > frameAt && ((answer[frameAt] as number) & 0x0f) === 8) raw.end();
    });
    // A client frame must be masked: this unmasked one is a protocol error, emitted as "error".
    raw.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    await recorder.until(() => recorder.gone > 0, "the close after the error");
    expect(recorder.data).toEqual([]);
    expect(socket.readyState).toBe(WebSocket.CLOSED);
  });
});

describe("prepared frames go through ws's Sender", () => {
  it("PreparedFrame and _sender.sendFrame put the exact payloads on the wire, every length encoding", async () => {
    const { url, accepted } = await startServer();
    const client = await connect(url);
    const { socket } = await accepted;
    expect(typeof (socket as unknown as { _sender?: { sendFrame?: unknown } })._sender?.sendFrame).toBe("function");

    const received: { text: string; isBinary: boolean }[] = [];
    client.on("message", (d, isBinary) => received.push({ text: d.toString(), isBinary }));
    const payloads = ["o", "é".repeat(100), "x".repeat(70_000)];
    for (const p of payloads) writePrepared(socket, new PreparedFrame(p));
    await expect.poll(() => received.length).toBe(payloads.length);
    expect(received).toEqual(payloads.map((text) => ({ text, isBinary: false })));
  });

  it("counts bytes written through sendFrame in bufferedAmount while the client reads nothing", async () => {
    const { url, accepted } = await startServer();
    const client = await connect(url);
    const { socket } = await accepted;
    client.pause();
    const frame = new PreparedFrame("y".repeat(1024 * 1024));
    // More than the kernel's socket buffers on both ends take: the rest waits in the process.
    for (let i = 0; i < 32; i++) writePrepared(socket, frame);
    expect(socket.bufferedAmount).toBeGreaterThan(1024 * 1024);
  });
});
