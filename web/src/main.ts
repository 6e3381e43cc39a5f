import { Chat } from "./chat";
import { Connection } from "./connection";
import { MessageList } from "./message-list";
import { loadGuest } from "./storage";
import { View } from "./view";

const view = new View();
const chat = new Chat(view, new MessageList(view.messages), (frame) => connection.send(frame));

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
  const room = view.roomInput.value.trim().toLowerCase();
  if (!room) return;
  chat.join(room);
  view.roomInput.value = "";
});

onSubmit(view.composer, () => {
  if (chat.submit(view.text.value)) view.text.value = "";
  view.fitComposer();
});

view.text.addEventListener("input", () => {
  view.fitComposer();
  chat.typed(view.text.value);
});
// Enter sends, as in every chat; Shift+Enter is a new line; Enter that ends an IME composition is neither.
view.text.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  view.composer.requestSubmit();
});

for (const list of [view.rooms, view.conversations]) {
  list.addEventListener("click", (event) => {
    const target = event.target as Element;
    const key = target.closest<HTMLElement>("[data-room]")?.dataset.room;
    if (key === undefined) return;
    if (target.closest(".leave")) chat.leave(key);
    else chat.switchTo(key);
  });
}

view.users.addEventListener("click", (event) => {
  const id = (event.target as Element).closest<HTMLElement>(".user")?.dataset.id;
  if (id !== undefined) chat.startConversation(id);
});

view.messages.addEventListener("scroll", () => chat.loadOlderIfAtTop(), { passive: true });
view.panelsToggle.addEventListener("click", () => view.togglePanels());

connection.start();
