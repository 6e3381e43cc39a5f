import { Chat } from "./chat";
import { Connection } from "./connection";
import { MessageList } from "./message-list";
import { View } from "./view";

const view = new View();
const chat = new Chat(view, new MessageList(view.messages), (frame) => connection.send(frame));

// ?transport=NAME pins one SockJS transport, so each can be tried on its own.
const pinned = new URLSearchParams(location.search).get("transport");
const connection = new Connection("/sock?lobby=0", pinned ? [pinned] : undefined, {
  state(state, transport) {
    view.setLink(state, transport);
    if (state === "online") chat.connected();
    else if (state === "offline") chat.disconnected();
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
});

view.text.addEventListener("input", () => chat.typed(view.text.value));
view.text.addEventListener("keydown", (event) => {
  if (event.key === "Escape") chat.cancelPm();
});
view.pmCancel.addEventListener("click", () => {
  chat.cancelPm();
  view.text.focus();
});

view.rooms.addEventListener("click", (event) => {
  const target = event.target as Element;
  const room = target.closest<HTMLElement>("[data-room]")?.dataset.room;
  if (room === undefined) return;
  if (target.closest(".leave")) chat.leave(room);
  else chat.switchTo(room);
});

view.users.addEventListener("click", (event) => {
  const id = (event.target as Element).closest<HTMLElement>(".user")?.dataset.id;
  if (id !== undefined) chat.startPm(id);
});

view.messages.addEventListener("scroll", () => chat.loadOlderIfAtTop(), { passive: true });
view.panelsToggle.addEventListener("click", () => view.togglePanels());

connection.start();
