// expertmatch console: a little progressive enhancement; every page works without it.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  // One click, one request: a double click must not post twice.
  for (const button of form.querySelectorAll("button[type=submit]")) {
    window.setTimeout(() => { button.disabled = true; }, 0);
  }
});
document.addEventListener("change", (event) => {
  const input = event.target;
  if (input.matches && input.matches("[data-autosubmit]")) {
    input.form.requestSubmit();
  }
});
