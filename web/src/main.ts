import { AuthRefusal, appToken, expiryOf, loadState, ticket } from "./accounts";
import { Attention } from "./attention";
import { AuthPages } from "./auth-pages";
import type { Mentionable } from "./autocomplete";
import { Chat } from "./chat";
import { Composer } from "./composer";
import { Connection, SignedOut } from "./connection";
import { wireMessageActions } from "./message-actions";
import { MessageList } from "./message-list";
import { Profiles, wireProfilePage } from "./profile";
import type { ClientRequest } from "./protocol";
import { wireRoomActions } from "./room-actions";
import { RoomControls, roomTyped } from "./room-controls";
import { parseRoute, routeTo } from "./routes";
import { SearchBox } from "./search-box";
import { loadGuest } from "./storage";
import { View } from "./view";

const view = new View();
const profiles = new Profiles(document.body);
const composer: Composer = new Composer(
  { text: view.text, counter: view.counter, editBar: view.editBar, mentionList: view.mentionList },
  (): Mentionable[] => chat.mentionable(),
  () => chat.typed(composer.value),
);
const attention = new Attention(view.notify, (key) => chat.switchTo(key, true));
const chat: Chat = new Chat(
  view,
  new MessageList(view.messages, (key, oldestMid) => chat.olderDropped(key, oldestMid)),
  composer,
  attention,
  (frame) => connection.send(frame),
);

// ?transport=NAME pins one SockJS transport, so each can be tried on its own.
const pinned = new URLSearchParams(location.search).get("transport");
let signedIn = false;
let tokenUrl: string | null = null;
let renewal: number | undefined;

/**
 * An embedding app's token lasts minutes: a fresh one goes over the open
 * connection (`auth`) halfway through what is left of it, so the
 * connection never ends with it and never reconnects for it.
 */
function renewBefore(token: string): void {
  window.clearTimeout(renewal);
  const exp = expiryOf(token);
  if (exp === undefined || tokenUrl === null) return;
  const url = tokenUrl;
  renewal = window.setTimeout(
    () => {
      appToken(url).then(
        (fresh) => {
          if (connection.send({ action: "auth", token: fresh, ref: "renew" })) renewBefore(fresh);
        },
        // Out of reach now: the next connection asks again, and an ended one says why.
        () => undefined,
      );
    },
    Math.max(1000, (exp - Date.now()) / 2),
  );
}

// Who the browser is goes in the first frame: a ticket from its sign-in, the app's token, or its guest token.
const hello = async (): Promise<ClientRequest> => {
  try {
    if (signedIn) return { action: "auth", ticket: await ticket() };
    if (tokenUrl !== null) {
      const token = await appToken(tokenUrl);
      renewBefore(token);
      return { action: "auth", token };
    }
  } catch (err) {
    if (err instanceof AuthRefusal && err.code === "unauthorized") throw new SignedOut();
    throw err;
  }
  const guest = loadGuest();
  return guest ? { action: "auth", guest } : { action: "auth" };
};
// proto=2: one person across tabs and reloads, rooms kept by the server; the page joins them itself.
const connection = new Connection(
  "/sock?lobby=0&proto=2&auth=first",
  pinned ? [pinned] : undefined,
  {
    state(state, transport) {
      view.setLink(state, transport);
      if (state === "offline") chat.disconnected();
    },
    frame: (frame) => {
      if (frame.action === "profile") {
        profiles.learn({ uid: frame.uid, name: frame.name, display: frame.display, colour: frame.colour });
      }
      // A room's frame says the user's role there, which the moderators' controls follow; the room controls take it too.
      if (frame.action === "room") chat.moderation.handle(frame);
      if (frame.action === "edit" || frame.action === "delete") search.changed(frame);
      if (!rooms.handle(frame) && !search.handle(frame)) chat.handle(frame);
    },
    refused: (why) => pages?.showSignIn(why),
  },
  hello,
);
let pages: AuthPages | undefined;
const rooms = new RoomControls(
  chat,
  (frame) => connection.send(frame),
  (text, action) => view.notice(text, action),
);
view.browseRooms.addEventListener("click", () => rooms.openDirectory());
view.createRoom.addEventListener("click", () => rooms.openCreate());
view.inviteOpen.addEventListener("click", () => rooms.inviteByLink());
view.membersOpen.addEventListener("click", () => rooms.openMembers());
view.settingsOpen.addEventListener("click", () => rooms.openSettings());
view.peopleOpen.addEventListener("click", () => rooms.openPeople());
const search = new SearchBox({
  send: (frame) => connection.send(frame),
  personName: (uid) => chat.conversationTitle(uid),
  open: (hit) =>
    chat.open(hit.room !== undefined ? routeTo("room", hit.room, hit.mid) : routeTo("dm", hit.with ?? "", hit.mid)),
  closed: () => view.text.focus(),
});

/** Where typing `/` means the character, not "search". */
function editable(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))
  );
}

// Ctrl+K (⌘K) anywhere, or `/` outside a text field, goes to the search box, as in other chats.
document.addEventListener("keydown", (event) => {
  const ctrlK = (event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k";
  if (!ctrlK && !(event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !editable(event.target)))
    return;
  event.preventDefault();
  search.focus();
});

function onSubmit(form: HTMLFormElement, action: () => void): void {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    action();
  });
}

onSubmit(view.nickForm, () => {
  const name = view.nick.value.trim();
  if (name) chat.setNick(name);
  view.nick.blur();
});

onSubmit(view.joinForm, () => {
  // The server folds room ids the same way; folding here too lets its answer be matched up.
  const room = roomTyped(view.roomInput.value);
  if (!room) return;
  chat.join(room);
  view.roomInput.value = "";
});

onSubmit(view.composer, () => chat.submit());

view.text.addEventListener("input", () => {
  composer.changed();
  composer.mentions.update();
  chat.typed(composer.value);
});
// The caret moved by a click or an arrow: the mention before it, if any, is the one to complete.
view.text.addEventListener("click", () => composer.mentions.update());
view.text.addEventListener("keyup", (event) => {
  if (event.key === "ArrowLeft" || event.key === "ArrowRight" || event.key === "Home" || event.key === "End") {
    composer.mentions.update();
  }
});
view.text.addEventListener("keydown", (event) => {
  if (composer.mentions.keydown(event)) return;
  if (event.key === "Escape" && composer.editing) {
    event.preventDefault();
    chat.editor.cancelEdit();
    return;
  }
  // Enter sends, as in every chat; Shift+Enter is a new line; Enter that ends an IME composition is neither.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  view.composer.requestSubmit();
});
view.editCancel.addEventListener("click", () => chat.editor.cancelEdit());

for (const list of [view.rooms, view.conversations]) {
  list.addEventListener("click", (event) => {
    const target = event.target as Element;
    const key = target.closest<HTMLElement>("[data-room]")?.dataset.room;
    if (key === undefined) return;
    if (target.closest(".leave")) chat.leave(key);
    else chat.switchTo(key, true);
  });
}

view.users.addEventListener("click", (event) => {
  const target = event.target as Element;
  const id = target.closest<HTMLElement>(".user")?.dataset.id;
  if (id === undefined) return;
  const act = target.closest<HTMLElement>("[data-user-act]")?.dataset.userAct;
  if (act !== undefined) chat.moderation.userAct(act, id);
  else if (target.closest(".user-name")) chat.startConversation(id);
});

wireRoomActions();
wireMessageActions(
  view.messages,
  chat.editor,
  { linkTo: (mid) => chat.linkTo(mid), notice: (text) => view.notice(text) },
  (act, mid) => chat.moderation.messageAct(act, mid),
);
view.messages.addEventListener("scroll", () => chat.scrolled(), { passive: true });
view.jump.addEventListener("click", () => chat.jumpToNewest());
view.panelsToggle.addEventListener("click", () => chat.togglePanels());
// Escape puts a phone's list of places away, as it does a menu, and the focus goes back to its button.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !document.body.classList.contains("panels-open") || event.defaultPrevented) return;
  if ((event.target as Element).closest("dialog, .overlay")) return;
  chat.togglePanels();
  view.panelsToggle.focus();
});
view.mute.addEventListener("click", () => chat.toggleMute());

/**
 * What the server says of this browser decides the first page: a one-time
 * link's form, the chat as its account, the name a provider's newcomer must
 * choose, the sign-up of an invitation, the chat as a guest where guests may
 * come, or else the sign-in page.
 */
async function boot(): Promise<void> {
  const state = await loadState();
  const link = new URLSearchParams(location.hash.slice(1));
  pages = new AuthPages(state, () => connection.start());
  const reset = link.get("reset");
  const invite = link.get("invite");
  if (reset) return pages.showReset(reset);
  if (state.account) {
    signedIn = true;
    wireProfilePage(profiles, state.account);
    return connection.start();
  }
  if (state.chooseName) return pages.showChooseName(state.chooseName.suggested);
  if (invite) return pages.showSignUp(invite);
  if (state.tokenUrl !== null) {
    tokenUrl = state.tokenUrl;
    return connection.start();
  }
  if (state.guests) return connection.start();
  pages.showSignIn("needed");
}

// A link to a room, a message or a conversation: opened once the chat is connected.
const linked = parseRoute(location.hash);
if (linked) chat.open(linked);

// A one-time link opened in a tab that shows the chat already changes only the address's #part; so does any other link.
window.addEventListener("hashchange", () => {
  if (/(^|[#&])(reset|invite)=/.test(location.hash)) {
    location.reload();
    return;
  }
  const route = parseRoute(location.hash);
  if (route) chat.open(route);
});

boot().catch(() => {
  view.notice("The server cannot be reached. Reload the page to try again.");
});
