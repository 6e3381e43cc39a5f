import { randomBytes } from "node:crypto";

/**
 * A connection id is `<node id>.<random>`: unique across nodes, and it says
 * which node holds the connection, so a private message can be sent there.
 * It is made by the server, never taken from the transport: ids are shown to
 * everyone, and whoever knew an HTTP session's id could send and read on it.
 */
export function newConnectionId(nodeId: string): string {
  return `${nodeId}.${randomBytes(9).toString("base64url")}`;
}

/** The node that holds a connection, or undefined for a string that is not a connection id. */
export function nodeOf(connectionId: string): string | undefined {
  const dot = connectionId.indexOf(".");
  return dot > 0 ? connectionId.slice(0, dot) : undefined;
}
