// The account's side of the page: what a refused login means, and /register's password, asked
// for twice in password fields (never typed into the message box, where it would show).
"use strict";

const $ = (id) => document.getElementById(id);

// What a refused login means, in the words of the form (the server's own message comes first).
export const REFUSALS = {
  name_registered: "That name is an account: give its password, or choose another name.",
  bad_login: "The account password is wrong.",
  username_taken: "Someone is using that name right now: choose another.",
  invalid_username: "Names are 1 to 32 letters, digits, _ - and . (and a few are reserved).",
  bad_password: "This server has a password: it goes in the last field.",
  account_required: "This server lets in only accounts: give your account's name and password.",
  too_many_logins: "Too many tries: wait as long as it says, then try again.",
  too_many_connections: "Too many connections from your address: close another tab or wait a minute.",
};

export function askPassword(name) {
  $("register-name").textContent = name;
  $("register-pw").value = $("register-again").value = $("register-error").textContent = "";
  $("register").showModal();
  $("register-pw").focus();
}

export function offerRegister(send) {
  $("register-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const password = $("register-pw").value;
    if (password !== $("register-again").value) {
      $("register-error").textContent = "The two are not the same.";
      return;
    }
    $("register").close();
    send({ type: "register", password });
  });
  $("register-cancel").addEventListener("click", () => $("register").close());
}
