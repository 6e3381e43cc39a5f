/** SockJS close codes the server uses (the 4000s are the application's own range). */
export const CloseCode = {
  /** The server is shutting down: reconnect, and another node will answer. */
  shuttingDown: 4000,
  unauthorized: 4001,
  flooding: 4002,
  slowConsumer: 4003,
  tooManyConnections: 4004,
  /** The token the connection was admitted with has expired and no fresh one came (`auth`). */
  tokenExpired: 4005,
  /** The sign-in session ended: signed out here, everywhere, or the password changed. Sign in again. */
  signedOut: 4006,
  /** An admin disabled the account. */
  accountDisabled: 4007,
} as const;
