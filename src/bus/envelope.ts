/**
 * What travels between nodes, in one place.
 *
 * A room channel carries envelopes, one per publication, as text:
 *
 *     <mid> TAB <epoch> TAB <exclude> LF <json>
 *
 * - `mid` and `epoch`: a stored message's number and the lifetime of the
 *   room's history it belongs to; both empty for what is not stored
 *   (presence, typing). Stored messages are wrapped by the Redis script that
 *   stores them (src/redis/lua/store-and-publish.lua), so the script and
 *   encodeEnvelope below must agree.
 * - `exclude`: a connection id that must not be sent this (the sender of its
 *   own `typing` or `user_join`); empty for none.
 * - `json`: the frame exactly as every local member is sent it, so a node
 *   never parses or re-encodes it.
 *
 * A node channel carries NodeMessage as JSON.
 */

export interface Envelope {
  mid?: number;
  epoch?: string;
  exclude?: string;
  json: string;
}

/** A frame for one connection, sent to the node that holds it. */
export interface NodeMessage {
  to: string;
  json: string;
}

export function encodeEnvelope(envelope: Envelope): string {
  return `${envelope.mid ?? ""}\t${envelope.epoch ?? ""}\t${envelope.exclude ?? ""}\n${envelope.json}`;
}

export function parseEnvelope(payload: string): Envelope {
  const lf = payload.indexOf("\n");
  const [mid = "", epoch = "", exclude = ""] = payload.slice(0, lf).split("\t");
  return {
    mid: mid === "" ? undefined : Number(mid),
    epoch: epoch === "" ? undefined : epoch,
    exclude: exclude === "" ? undefined : exclude,
    json: payload.slice(lf + 1),
  };
}

export function encodeNodeMessage(message: NodeMessage): string {
  return JSON.stringify(message);
}

/** Throws on a payload that is not a NodeMessage. */
export function parseNodeMessage(payload: string): NodeMessage {
  const value: unknown = JSON.parse(payload);
  const { to, json } = (value ?? {}) as Partial<NodeMessage>;
  if (typeof to !== "string" || typeof json !== "string") throw new Error("not a node message");
  return { to, json };
}
