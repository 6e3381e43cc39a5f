// Frame shapes from docs/protocol.md, as far as this client uses them.

interface User {
  id: string;
  name: string;
}

export interface ChatMessage {
  action: "message";
  mid: number;
  room: string;
  message: string;
  id: string;
  name: string;
  ts: number;
}

export interface PrivateMessage {
  action: "pm" | "pm_sent";
  target: { id: string; name: string };
  message: string;
  id: string;
  name: string;
  ts: number;
}

export interface HistoryFrame {
  action: "history";
  room: string;
  epoch: string;
  messages: ChatMessage[];
  more: boolean;
  recovered?: boolean;
  ref?: string | number;
}

export type ServerFrame =
  | { action: "user_info"; id: string; name: string }
  | { action: "user_join" | "user_left"; id: string; name: string; room: string }
  | { action: "user_renamed"; id: string; name: string; previous: string; room?: string }
  | ChatMessage
  | PrivateMessage
  | HistoryFrame
  | { action: "users"; room: string; users: User[] }
  | { action: "typing"; room: string; id: string; name: string }
  | { action: "left"; room: string }
  | { action: "ack"; of: string; ref: string | number }
  | { action: "error"; code: string; message: string; ref?: string | number };

export type ClientFrame =
  | { action: "message"; room: string; message: string }
  | { action: "pm"; target: { id: string }; message: string }
  | { action: "join"; room: string; since?: number; epoch?: string }
  | { action: "leave"; room: string }
  | { action: "nick"; name: string }
  | { action: "typing"; room: string }
  | { action: "history"; room: string; before: number; limit: number; ref: string };

/**
 * The server is trusted to send the documented shapes, so this only checks the
 * envelope; actions this client does not know fall through its switch unused.
 */
export function parseFrame(data: string): ServerFrame | null {
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && typeof (value as { action?: unknown }).action === "string") {
      return value as ServerFrame;
    }
  } catch {
    // not JSON: nothing a client could act on
  }
  return null;
}
