import type { Chat } from "./chat";
import { InviteDialog, inviteInAddress } from "./invite-dialog";
import type { ClientRequest, ServerFrame } from "./protocol";
import { RoomDialog } from "./room-dialog";
import { RoomsDirectory } from "./rooms-directory";

const CREATE_REF = "room-create";
const DIRECTORY_REF = "rooms:";
const LINK_REF = "invite-link";
const ACCEPT_REF = "accept";

/**
 * Rooms as things: the directory, the dialog that makes one, invitation
 * links made and accepted. Takes the frames that answer these (by their
 * `ref`) and every `room` frame, which tells the chat a room's name and topic.
 */
export class RoomControls {
  private readonly create: RoomDialog;
  private readonly directory: RoomsDirectory;
  private readonly invite = new InviteDialog();
  /** An invitation opened from the address, accepted once the connection is up. */
  private pendingAccept = inviteInAddress();

  constructor(
    private readonly chat: Chat,
    private readonly send: (frame: ClientRequest) => boolean,
    private readonly notice: (text: string, action?: { label: string; run: () => void }) => void,
  ) {
    this.create = new RoomDialog((room) => {
      if (!this.send({ action: "room_create", ...room, ref: CREATE_REF })) this.create.refused("Not connected");
    });
    this.directory = new RoomsDirectory(
      (q, after) => {
        this.send({
          action: "rooms",
          q: q || undefined,
          after,
          ref: DIRECTORY_REF + (after === undefined ? "first" : "next"),
        });
      },
      (room) => this.chat.join(room),
    );
    // The token is in the page's address until it is used: not left there to be shared or bookmarked.
    if (this.pendingAccept !== null) history.replaceState(null, "", location.pathname + location.search);
    window.addEventListener("hashchange", () => {
      const token = inviteInAddress();
      if (token === null) return;
      history.replaceState(null, "", location.pathname + location.search);
      this.accept(token);
    });
  }

  openCreate(): void {
    this.create.open();
  }

  openDirectory(): void {
    this.directory.open();
  }

  /** Makes an invitation link into the room on screen. */
  inviteByLink(): void {
    const room = this.chat.currentRoom();
    if (room === null) return;
    if (!this.send({ action: "invite_link", room, ref: LINK_REF })) this.notice("Not connected");
  }

  private accept(token: string): void {
    if (!this.send({ action: "accept", token, ref: ACCEPT_REF })) this.pendingAccept = token;
  }

  /** True when the frame was this module's to handle. */
  handle(frame: ServerFrame): boolean {
    switch (frame.action) {
      case "user_info":
        // The connection is up and knows who this is: a link from the address can be used now.
        if (this.pendingAccept !== null) {
          const token = this.pendingAccept;
          this.pendingAccept = null;
          queueMicrotask(() => this.accept(token));
        }
        return false;
      case "room":
        this.chat.describeRoom(frame.room, frame.name, frame.topic);
        if (frame.ref === CREATE_REF) {
          this.create.done();
          this.chat.join(frame.room);
        } else if (frame.ref === ACCEPT_REF) this.chat.join(frame.room);
        return true;
      case "rooms":
        this.directory.show(frame, frame.ref === `${DIRECTORY_REF}first`);
        return true;
      case "invite_link":
        this.invite.show(this.chat.roomName(frame.room), frame.token, frame.uses, frame.expires);
        return true;
      case "invited":
        this.notice(`${frame.by.name} invited you to ${frame.name}`, {
          label: "Join",
          run: () => this.chat.join(frame.room),
        });
        return true;
      case "error":
        return this.refused(frame);
      default:
        return false;
    }
  }

  private refused(frame: Extract<ServerFrame, { action: "error" }>): boolean {
    if (frame.ref === CREATE_REF) this.create.refused(frame.message);
    else if (typeof frame.ref === "string" && frame.ref.startsWith(DIRECTORY_REF))
      this.directory.refused(frame.message);
    else if (frame.ref === ACCEPT_REF) {
      this.notice(frame.code === "bad_invitation" ? "This invitation link has expired or been used up" : frame.message);
    } else if (frame.ref === LINK_REF) this.notice(frame.message);
    else return false;
    return true;
  }
}
