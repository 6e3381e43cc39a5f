import { CloseCode } from "../protocol/close-codes.js";
import { parseConnectQuery } from "../protocol/requests.js";
import { AddressCounter } from "../transport/address-counter.js";
import { OutFrame } from "../transport/out-frame.js";
import type { Peer } from "../transport/peer.js";
import { refuseConnection } from "./admission.js";
import type { ChatContext } from "./context.js";
import { Session } from "./session.js";

/**
 * The chat side of one server process: it takes each new transport
 * connection, admits it (or refuses it: shutting down, too many from one
 * address) as a Session, and on shutdown closes them all and waits until
 * each has left its rooms.
 */
export class ChatNode {
  private readonly sessions = new Set<Session>();
  private readonly perAddress: AddressCounter;
  private draining = false;
  /** One callback for every session, rather than a closure per connection. */
  private readonly onEnded = (session: Session) => this.ended(session);

  constructor(
    private readonly ctx: ChatContext,
    maxConnectionsPerAddress: number,
  ) {
    this.perAddress = new AddressCounter(maxConnectionsPerAddress);
  }

  get connections(): number {
    return this.sessions.size;
  }

  connectionsByTransport(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { transport } of this.sessions) counts.set(transport, (counts.get(transport) ?? 0) + 1);
    return counts;
  }

  accept(peer: Peer): void {
    const { log, meter } = this.ctx;
    if (this.draining) {
      peer.close(CloseCode.shuttingDown, "Server shutting down");
      return;
    }
    if (!this.perAddress.acquire(peer.clientAddress)) {
      const conn = { send: (json: string) => peer.send(new OutFrame(json)), close: peer.close.bind(peer) };
      const refusal = {
        code: "too_many_connections",
        message: "too many connections from your address",
        closeCode: CloseCode.tooManyConnections,
        closeReason: "Too many connections",
      } as const;
      refuseConnection(conn, refusal, log, meter, { addr: peer.clientAddress });
      return;
    }
    const session = new Session(peer, this.ctx, this.onEnded);
    this.sessions.add(session);
    log.info({ conn: session.id, transport: peer.transport, addr: peer.clientAddress }, "connection opened");
    void session.open(parseConnectQuery(peer.query));
  }

  /** Closes every connection with 4000 (reconnect: another node will answer); resolves once each has left its rooms. */
  async drain(): Promise<void> {
    this.draining = true;
    const open = [...this.sessions];
    this.ctx.log.info({ connections: open.length }, "closing connections");
    for (const session of open) session.close(CloseCode.shuttingDown, "Server shutting down");
    // Each session announces its departure to the other nodes as it goes.
    await Promise.allSettled(open.map((s) => s.settled));
  }

  private ended(session: Session): void {
    this.perAddress.release(session.clientAddress);
    this.ctx.log.info({ conn: session.id }, "connection closed");
    void session.settled.finally(() => this.sessions.delete(session));
  }
}
