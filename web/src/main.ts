import { Attention } from "./attention";
import { Chat } from "./chat";
import { Composer } from "./composer";
import { Connection } from "./connection";
import { wireMessageActions } from "./message-actions";
import { MessageList } from "./message-list";
import { loadGuest } from "./storage";
import { View } from "./view";

const view = new View();
const composer: Composer = new Composer(
  { text: view.text, counter: view.counter, editBar: view.editBar, mentionList: view.mentionList },
  (): string[] => chat.mentionable(),
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
// proto=2: one person across tabs and reloads, rooms kept by the server; the page joins them itself.
const url = () => {
  const guest = loadGuest();
  return `/sock?lobby=0&proto=2${guest ? `&guest=${encodeURIComponent(guest)}` : ""}`;
};
const connection = new Connection(url, pinned ? [pinned] : undefined, {
  state(state, transport) {
    view.setLink(state, transport);
    if (state === "offline") chat.disconnected();
  },
  frame: (frame) => chat.handle(frame),
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
  // The server folds room names the same way; folding here too lets its answer be matched up.
  // Spaces become dashes: "Design Team" is the room design-team, not a refusal.
  const room = view.roomInput.value.trim().toLowerCase().replace(/\s+/g, "-");
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
  const id = (event.target as Element).closest<HTMLElement>(".user")?.dataset.id;
  if (id !== undefined) chat.startConversation(id);
});

wireMessageActions(view.messages, chat.editor);
view.messages.addEventListener("scroll", () => chat.scrolled(), { passive: true });
view.jump.addEventListener("click", () => chat.jumpToNewest());
view.panelsToggle.addEventListener("click", () => view.togglePanels());
view.mute.addEventListener("click", () => chat.toggleMute());

connection.start();
