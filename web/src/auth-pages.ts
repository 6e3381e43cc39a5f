import { type AccountInfo, AuthRefusal, type AuthState, getJson, post } from "./accounts";
import { byId, el } from "./dom";
import { Overlay } from "./overlay";

/** Why the page shows the sign-in form instead of the chat. */
export type SignInReason = "needed" | "ended" | "disabled";

const REASONS: Record<SignInReason, string> = {
  needed: "",
  ended: "Your sign-in has ended. Sign in again to go on.",
  disabled: "This account has been disabled by an admin.",
};

/**
 * The pages around the chat: sign-in, sign-up where the server allows it,
 * setting a password from a one-time link, the account's own controls in
 * the top bar, and the small admin page. Each success reloads the page, so
 * the chat always starts from what the server says the browser now is.
 */
export class AuthPages {
  private readonly section = byId("auth");
  private readonly overlay = new Overlay(this.section, false);
  private readonly title = byId("auth-title");
  private readonly message = byId("auth-message");
  private readonly signInForm = byId<HTMLFormElement>("signin-form");
  private readonly signUpForm = byId<HTMLFormElement>("signup-form");
  private readonly resetForm = byId<HTMLFormElement>("reset-form");
  private readonly chooseNameForm = byId<HTMLFormElement>("choose-name-form");
  private readonly toSignUp = byId<HTMLButtonElement>("show-signup");
  private readonly toSignIn = byId<HTMLButtonElement>("show-signin");
  private readonly asGuest = byId<HTMLButtonElement>("as-guest");
  private readonly withProvider = byId<HTMLAnchorElement>("with-provider");
  private readonly admin = new Overlay(byId("admin"), true);
  private invite: string | undefined;
  private resetToken = "";

  constructor(
    private readonly state: AuthState,
    /** Starts the chat as a guest, from the sign-in page. */
    private readonly startAsGuest: () => void,
  ) {
    this.wireForm(this.signInForm, async (data) => {
      await post("/auth/signin", { name: data.get("name"), password: data.get("password") });
    });
    this.wireForm(this.signUpForm, async (data) => {
      await post("/auth/signup", { name: data.get("name"), password: data.get("password"), invite: this.invite });
    });
    this.wireForm(this.chooseNameForm, async (data) => {
      await post("/auth/oidc/name", { name: data.get("name") });
    });
    this.wireForm(this.resetForm, async (data) => {
      await post("/auth/reset", { token: this.resetToken, password: data.get("password") });
    });
    this.toSignUp.addEventListener("click", () => this.showSignUp(this.invite));
    this.toSignIn.addEventListener("click", () => this.showSignIn("needed"));
    this.asGuest.addEventListener("click", () => {
      this.overlay.close();
      this.startAsGuest();
    });
    this.wireBar();
    this.wireAdmin();
  }

  private wireForm(form: HTMLFormElement, send: (data: FormData) => Promise<void>): void {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = form.querySelector<HTMLButtonElement>("button[type=submit]");
      if (button) button.disabled = true;
      send(new FormData(form)).then(
        () => this.home(),
        (err: unknown) => {
          if (button) button.disabled = false;
          this.say(err instanceof AuthRefusal ? err.message : "The server cannot be reached. Try again.");
        },
      );
    });
  }

  /** Back to the chat, as whoever the browser now is; a link's token leaves the address bar. */
  private home(): void {
    location.replace("/");
  }

  private say(text: string): void {
    this.message.textContent = text;
    this.message.hidden = text === "";
  }

  private show(form: HTMLFormElement, title: string): void {
    for (const f of [this.signInForm, this.signUpForm, this.resetForm, this.chooseNameForm]) f.hidden = f !== form;
    this.title.textContent = title;
    document.body.dataset.auth = "shown";
    const signUpAllowed = this.state.signup === "open" || (this.state.signup === "invite" && this.invite !== undefined);
    this.toSignUp.hidden = form === this.signUpForm || !signUpAllowed;
    this.toSignIn.hidden = form === this.signInForm;
    this.asGuest.hidden = !this.state.guests;
    this.withProvider.hidden = form !== this.signInForm || this.state.oidc === null;
    if (this.state.oidc) this.withProvider.textContent = `Continue with ${this.state.oidc.name}`;
    this.overlay.open(form.querySelector<HTMLInputElement>("input"));
  }

  showSignIn(why: SignInReason): void {
    this.say(REASONS[why]);
    this.show(this.signInForm, "Sign in");
  }

  showSignUp(invite: string | undefined): void {
    this.invite = invite;
    this.say("");
    this.show(this.signUpForm, "Create an account");
  }

  /** A newcomer through the provider whose claimed name is an account's already picks the name others will see. */
  showChooseName(suggested: string): void {
    const provider = this.state.oidc?.name ?? "your provider";
    this.say(
      suggested === ""
        ? `${provider} gave no name this chat can use. Choose the name others will see.`
        : `The name ${provider} gave, “${suggested}”, is taken here or cannot be used. Choose the name others will see.`,
    );
    byId<HTMLInputElement>("choose-name").value = suggested;
    this.show(this.chooseNameForm, "Choose your name");
  }

  showReset(token: string): void {
    this.resetToken = token;
    this.say("");
    this.show(this.resetForm, "Choose a password");
  }

  /** The top bar: who is signed in and their controls, or a way to sign in for a guest. */
  private wireBar(): void {
    const account = this.state.account;
    const signIn = byId<HTMLButtonElement>("sign-in");
    const bar = byId("account-bar");
    signIn.hidden = account !== null;
    signIn.addEventListener("click", () => this.showSignIn("needed"));
    for (const id of ["account-name", "sign-out", "sign-out-all"]) byId(id).hidden = account === null;
    byId("admin-open").hidden = !account?.admin;
    byId("nick-form").hidden = account !== null;
    if (account) byId("account-name").textContent = account.name;
    bar.hidden = false;
    const leave = (path: string) => () => {
      post(path).then(
        () => this.home(),
        () => this.home(),
      );
    };
    byId("sign-out").addEventListener("click", leave("/auth/signout"));
    byId("sign-out-all").addEventListener("click", leave("/auth/signout-everywhere"));
  }

  private wireAdmin(): void {
    byId("admin-open").addEventListener("click", () => {
      this.admin.open();
      void this.loadAccounts();
    });
    byId("admin-close").addEventListener("click", () => {
      this.admin.close();
    });
    const output = byId("admin-output");
    byId<HTMLFormElement>("invite-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(event.target as HTMLFormElement);
      post<{ token: string }>("/auth/admin/invitations", {
        uses: Number(data.get("uses")),
        hours: Number(data.get("hours")),
      }).then(
        ({ token }) => {
          output.textContent = `Invitation link: ${location.origin}/#invite=${token}`;
        },
        (err: unknown) => {
          output.textContent = err instanceof Error ? err.message : "refused";
        },
      );
    });
  }

  private async loadAccounts(): Promise<void> {
    const list = byId("admin-accounts");
    const output = byId("admin-output");
    let accounts: AccountInfo[];
    try {
      ({ accounts } = await getJson<{ accounts: AccountInfo[] }>("/auth/admin/accounts"));
    } catch (err) {
      output.textContent = err instanceof Error ? err.message : "refused";
      return;
    }
    const act = (label: string, run: () => Promise<void>) => {
      const button = el("button", { type: "button" }, label);
      button.addEventListener("click", () => {
        run().then(
          () => this.loadAccounts(),
          (err: unknown) => {
            output.textContent = err instanceof Error ? err.message : "refused";
          },
        );
      });
      return button;
    };
    const me = this.state.account?.uid;
    list.replaceChildren(
      ...accounts.map((a) =>
        el(
          "li",
          { class: a.disabled ? "account disabled" : "account", "data-uid": a.uid },
          // Shown as everyone sees them, with the unique name they sign in with when the two differ.
          el("span", { class: "account-name" }, a.display),
          a.display === a.name ? null : el("span", { class: "account-handle" }, `@${a.name}`),
          a.admin ? el("span", { class: "account-badge" }, "admin") : null,
          a.disabled ? el("span", { class: "account-badge" }, "disabled") : null,
          a.uid === me
            ? null
            : act(a.disabled ? "Enable" : "Disable", async () => {
                await post(`/auth/admin/accounts/${encodeURIComponent(a.uid)}`, { disabled: !a.disabled });
              }),
          a.admin || a.uid === me
            ? null
            : act("Make admin", async () => {
                await post(`/auth/admin/accounts/${encodeURIComponent(a.uid)}`, { admin: true });
              }),
          act("Reset link", async () => {
            const { token } = await post<{ token: string }>(`/auth/admin/accounts/${encodeURIComponent(a.uid)}/reset`);
            const who = a.display === a.name ? a.name : `${a.display} (@${a.name})`;
            output.textContent = `One-time link for ${who}: ${location.origin}/#reset=${token}`;
          }),
        ),
      ),
    );
  }
}
