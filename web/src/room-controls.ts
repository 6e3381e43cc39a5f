import type { Chat } from "./chat";
import type { Child } from "./dom";
import { personName } from "./guest-badge";
import { InviteDialog, inviteInAddress } from "./invite-dialog";
import { PeopleDialog } from "./people-dialog";
import type { ClientRequest, ServerFrame } from "./protocol";
import { RoomDialog } from "./room-dialog";
import { RoomSettingsDialog, type SettingsChange } from "./room-settings";
import { RoomsDirectory } from "./rooms-directory";

const CREATE_REF = "room-create";
const DIRECTORY_REF = "rooms:";
const LINK_REF = "invite-link";
const ACCEPT_REF = "accept";
const MEMBERS_REF = "members:";
const PEOPLE_REF = "people:";
const SETTINGS_REF = "room-settings";
const SLOW_REF = "room-slow";

const page = (after: string | undefined) => (after === undefined ? "first" : "next");

/**
 * The room a person means by what they typed in the join box: "#Café Talk"
 * is cafe-talk, the id the New room dialog makes of that name. The mark of a
 * room, accents and case go, spaces become dashes; anything else is left for
 * the server to refuse with its reason.
 */
export function roomTyped(text: string): string {
  return text.trim().replace(/^#+/u, "").normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\s+/gu, "-");
}

/**
 * Rooms as things: the directory, the dialog that makes one, invitation
 * links made and accepted. Takes the frames that answer these (by their
 * `ref`) and every `room` frame, which tells the chat a room's name and topic.
 */
export class RoomControls {
  private readonly create: RoomDialog;
  private readonly directory: RoomsDirectory;
  private readonly invite = new InviteDialog();
  private readonly members: PeopleDialog;
  private readonly people: PeopleDialog;
  private readonly settings: RoomSettingsDialog;
  /** The room the settings dialog changes, and the answers it still waits for. */
  private settingsOf: { room: string; waiting: Set<string> } | null = null;
  /** The room whose members the members dialog shows. */
  private membersOf: string | null = null;
  /** An invitation opened from the address, accepted once the connection is up. */
  private pendingAccept = inviteInAddress();

  constructor(
    private readonly chat: Chat,
    private readonly send: (frame: ClientRequest) => boolean,
    private readonly notice: (content: string | Child[], action?: { label: string; run: () => void }) => void,
  ) {
    this.create = new RoomDialog((room) => {
      if (!this.send({ action: "room_create", ...room, ref: CREATE_REF })) this.create.refused("Not connected");
    });
    this.settings = new RoomSettingsDialog((change) => this.saveSettings(change));
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
      (room) => this.chat.isIn(room),
    );
    const converse = (uid: string, name: string) => this.chat.converse(uid, name);
    this.members = new PeopleDialog(
      "members-dialog",
      (_q, after) => {
        if (this.membersOf !== null)
          this.send({ action: "members", room: this.membersOf, after, ref: MEMBERS_REF + page(after) });
      },
      converse,
      false,
    );
    this.people = new PeopleDialog(
      "people-dialog",
      (q, after) => this.send({ action: "people", q: q || undefined, after, ref: PEOPLE_REF + page(after) }),
      converse,
      true,
      // Guests have no account to list: on a server of guests the directory is empty, and says where they are.
      "Nobody found. People with accounts are listed here; to write to a guest, choose their name in a room's Online list.",
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

  /** The members of the room on screen, online or not. */
  openMembers(): void {
    this.membersOf = this.chat.currentRoom();
    if (this.membersOf !== null) this.members.open(`Members of ${this.chat.roomName(this.membersOf)}`);
  }

  /** The settings of the room on screen, for its moderators and its owner. */
  openSettings(): void {
    const room = this.chat.currentRoom();
    if (room === null) return;
    const about = this.chat.roomAbout(room);
    this.settingsOf = { room, waiting: new Set() };
    this.settings.open(
      this.chat.roomName(room),
      {
        name: about?.name ?? room,
        topic: about?.topic ?? "",
        visibility: about?.visibility ?? "public",
        slow: this.chat.moderation.slowIn(room),
      },
      this.chat.moderation.roleIn(room) === "owner",
    );
  }

  /** Sends what changed: the room's record in one request, its slow mode (a moderation) in another. */
  private saveSettings(change: SettingsChange): void {
    const target = this.settingsOf;
    if (target === null) return;
    const { slow, ...record } = change;
    const { room } = target;
    const sent: [string, ClientRequest][] = [];
    if (Object.keys(record).length > 0)
      sent.push([SETTINGS_REF, { action: "room_update", room, ...record, ref: SETTINGS_REF }]);
    if (slow !== undefined) sent.push([SLOW_REF, { action: "slow", room, seconds: slow, ref: SLOW_REF }]);
    target.waiting = new Set(sent.map(([ref]) => ref));
    for (const [, request] of sent) {
      if (!this.send(request)) {
        this.settings.refused("Not connected");
        return;
      }
    }
  }

  /** One of the settings' requests was answered: the dialog goes once each was. */
  private settingsTaken(ref: string): void {
    const target = this.settingsOf;
    if (target === null || !target.waiting.delete(ref) || target.waiting.size > 0) return;
    this.settingsOf = null;
    this.settings.done();
  }

  /** The people directory: anyone with an account, to start a conversation with. */
  openPeople(): void {
    this.people.open("People");
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
        this.chat.describeRoom(frame);
        if (frame.ref === CREATE_REF) {
          this.create.done();
          this.chat.join(frame.room);
        } else if (frame.ref === ACCEPT_REF) this.chat.join(frame.room);
        else if (frame.ref === SETTINGS_REF) this.settingsTaken(SETTINGS_REF);
        return true;
      case "ack":
        if (frame.ref !== SLOW_REF) return false;
        this.settingsTaken(SLOW_REF);
        return true;
      case "rooms":
        this.directory.show(frame, frame.ref === `${DIRECTORY_REF}first`);
        return true;
      case "members":
        this.members.show(
          frame.members.map((m) => ({
            uid: m.uid,
            name: m.name,
            detail: `${m.role} · ${m.online ? "online" : "offline"}`,
          })),
          frame.next,
          frame.ref === `${MEMBERS_REF}first`,
          this.chat.myUid(),
        );
        return true;
      case "people":
        this.people.show(
          frame.people.map((p) => ({ ...p, detail: "" })),
          frame.next,
          frame.ref === `${PEOPLE_REF}first`,
          this.chat.myUid(),
        );
        return true;
      case "invite_link":
        this.invite.show(this.chat.roomName(frame.room), frame.token, frame.uses, frame.expires);
        return true;
      case "invited":
        this.notice([...personName(frame.by.uid, frame.by.name), ` invited you to ${frame.name}`], {
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
    else if (frame.ref === SETTINGS_REF || frame.ref === SLOW_REF) this.settings.refused(frame.message);
    else if (typeof frame.ref === "string" && frame.ref.startsWith(DIRECTORY_REF))
      this.directory.refused(frame.message);
    else if (typeof frame.ref === "string" && frame.ref.startsWith(MEMBERS_REF)) this.members.refused(frame.message);
    else if (typeof frame.ref === "string" && frame.ref.startsWith(PEOPLE_REF)) this.people.refused(frame.message);
    else if (frame.ref === ACCEPT_REF) {
      this.notice(frame.code === "bad_invitation" ? "This invitation link has expired or been used up" : frame.message);
    } else if (frame.ref === LINK_REF) this.notice(frame.message);
    else return false;
    return true;
  }
}
