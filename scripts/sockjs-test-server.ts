/**
 * The four services the SockJS protocol suite (sockjs-protocol.py) expects,
 * on our own SockJS server: `npm run sockjs:test-server`, then point the
 * suite at http://HOST:PORT. Our protocol tests use the same services.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import pino, { type Logger } from "pino";
import { OutFrame } from "../src/transport/out-frame.js";
import type { Peer } from "../src/transport/peer.js";
import { attachSockjs, SOCKJS_DEFAULTS, type SockjsOptions, SockjsServer } from "../src/transport/sockjs-server.js";

export interface TestServices {
  readonly url: string;
  close(): Promise<void>;
}

/** Listens to a peer with only a message handler. */
export function onMessages(peer: Peer, handle: (text: string) => void): void {
  peer.listen({ onMessage: handle, onClose: () => undefined, onSlowConsumer: () => undefined });
}

const echo = (peer: Peer) => onMessages(peer, (text) => peer.send(new OutFrame(text)));

export async function startTestServices(
  port: number,
  host: string,
  log: Logger,
  overrides: Partial<SockjsOptions> = {},
): Promise<TestServices> {
  const base = (prefix: string): SockjsOptions => ({
    ...SOCKJS_DEFAULTS,
    prefix,
    sockjsUrl: "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js",
    // The suite's streaming tests end a response after 4 KiB.
    responseLimit: 4096,
    maxMessageBytes: 1024 * 1024,
    maxPendingBytes: 0,
    allowRequest: () => true,
    clientAddress: (req) => req.socket.remoteAddress ?? "unknown",
    log,
    ...overrides,
  });
  const endpoints = [
    new SockjsServer(base("/echo"), echo),
    new SockjsServer(base("/close"), (peer) => peer.close(3000, "Go away!")),
    new SockjsServer({ ...base("/disabled_websocket_echo"), websocket: false }, echo),
    new SockjsServer({ ...base("/cookie_needed_echo"), cookieNeeded: true }, echo),
  ];
  const server = http.createServer();
  attachSockjs(server, endpoints, (_req, res) => {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("Not found");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      for (const endpoint of endpoints) endpoint.close(1001, "Going away");
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const log = pino({ level: process.env.LOG_LEVEL ?? "info" });
  const services = await startTestServices(Number(process.env.PORT ?? 8081), process.env.HOST ?? "127.0.0.1", log);
  log.info({ url: services.url }, "sockjs test services listening");
}
