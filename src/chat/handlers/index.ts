import type { Action, Request } from "../../protocol/requests.js";
import { auth } from "./auth.js";
import type { Caller, Handler } from "./caller.js";
import { edit, react, remove } from "./changes.js";
import { dm, pm } from "./direct.js";
import { accept, invite, inviteLink, members, people, role } from "./membership.js";
import { history, message } from "./messages.js";
import {
  ban,
  block,
  kick,
  remove as moderatorRemove,
  modlog,
  mute,
  pin,
  report,
  reports,
  slow,
  unban,
  unblock,
  unmute,
} from "./moderation.js";
import { nick, typing, users } from "./people.js";
import { ping } from "./ping.js";
import { read } from "./read-state.js";
import { roomCreate, rooms, roomUpdate } from "./room-directory.js";
import { join, leave } from "./rooms.js";
import { search } from "./search.js";

/** One handler per action: an action of the protocol without one does not compile. */
const handlers: { [A in Action]: Handler<A> } = {
  message,
  dm,
  history,
  join,
  leave,
  nick,
  typing,
  users,
  pm,
  read,
  edit,
  delete: remove,
  react,
  kick,
  ban,
  unban,
  mute,
  unmute,
  remove: moderatorRemove,
  slow,
  pin,
  modlog,
  report,
  reports,
  block,
  unblock,
  auth,
  ping,
  rooms,
  room_create: roomCreate,
  room_update: roomUpdate,
  invite,
  invite_link: inviteLink,
  accept,
  members,
  role,
  people,
  search,
};

export function dispatch(caller: Caller, request: Request): Promise<void> | undefined {
  // The table pairs each action with its handler; TypeScript cannot follow that through a union.
  return (handlers[request.action] as Handler<Action>)(caller, request as never);
}
