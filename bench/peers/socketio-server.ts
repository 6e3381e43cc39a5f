/**
 * The same chat semantics as our server, on Socket.IO 4.8 and its Redis
 * adapter, written the way their docs show: rooms are Socket.IO rooms, a
 * `message` goes to everyone in the room (the sender included) through
 * `io.to(room).emit`. Configured like ours: PORT, HOST, REDIS_URL.
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const pubClient = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const subClient = pubClient.duplicate();

const httpServer = createServer((req, res) => {
  const ready = req.url === "/readyz" && pubClient.status === "ready" && subClient.status === "ready";
  res.writeHead(ready ? 200 : 503).end();
});
const io = new Server(httpServer, { transports: ["websocket"], adapter: createAdapter(pubClient, subClient) });

const ROOM = /^[a-z0-9][a-z0-9_-]{0,31}$/;

io.on("connection", (socket) => {
  const name = `User #${100 + Math.floor(Math.random() * 900)}`;
  if (socket.handshake.query.lobby !== "0") socket.join("lobby");

  socket.on("join", (room: unknown, ack?: () => void) => {
    if (typeof room === "string" && ROOM.test(room)) socket.join(room);
    if (typeof ack === "function") ack();
  });

  socket.on("message", (data: { room?: unknown; message?: unknown }) => {
    const room = typeof data?.room === "string" ? data.room : "lobby";
    const message = data?.message;
    if (typeof message !== "string" || !socket.rooms.has(room)) return;
    io.to(room).emit("message", { room, message, id: socket.id, name, ts: Date.now() });
  });
});

httpServer.listen(port, host);
const stop = () => io.close(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
