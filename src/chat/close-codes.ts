/** SockJS close codes the server uses (the 4000s are the application's own range). */
export const CloseCode = {
  /** The server is shutting down: reconnect, and another node will answer. */
  shuttingDown: 4000,
  unauthorized: 4001,
  flooding: 4002,
  slowConsumer: 4003,
  tooManyConnections: 4004,
} as const;
