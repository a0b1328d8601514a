// Plumb's small progressive enhancements. Every page works without this file.
"use strict";

// Inline edit: save a field without reloading the page; the server answers with the field's
// fragment (its new value, or the error at the field) and we swap it in.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.swap) return;
  event.preventDefault();
  const target = document.querySelector(form.dataset.swap);
  const response = await fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { "X-Plumb-Fragment": "1" },
    credentials: "same-origin",
  });
  if (response.redirected || !target) { window.location.reload(); return; }
  target.outerHTML = await response.text();
  const version = response.headers.get("X-Plumb-Version");
  if (version) {
    // Saved: every other field's form now edits the new version.
    for (const input of document.querySelectorAll("form.inline-edit input[name=version]")) {
      input.value = version;
    }
  }
  const swapped = document.querySelector(form.dataset.swap);
  const focus = swapped && (swapped.querySelector("[autofocus]") || swapped.querySelector("summary"));
  if (focus) focus.focus();
});

// Pipeline board: drag a card onto another stage; the drop submits the card's own move form.
document.addEventListener("dragstart", (event) => {
  const card = event.target.closest && event.target.closest(".card[data-deal]");
  if (!card) return;
  event.dataTransfer.setData("text/plain", card.dataset.deal);
  event.dataTransfer.effectAllowed = "move";
  card.classList.add("dragging");
});
document.addEventListener("dragend", (event) => {
  const card = event.target.closest && event.target.closest(".card");
  if (card) card.classList.remove("dragging");
});
document.addEventListener("dragover", (event) => {
  const column = event.target.closest && event.target.closest(".column[data-stage]");
  if (!column) return;
  event.preventDefault();
  column.classList.add("drop");
});
document.addEventListener("dragleave", (event) => {
  const column = event.target.closest && event.target.closest(".column[data-stage]");
  if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop");
});
document.addEventListener("drop", (event) => {
  const column = event.target.closest && event.target.closest(".column[data-stage]");
  if (!column) return;
  event.preventDefault();
  column.classList.remove("drop");
  const card = document.getElementById("deal-" + event.dataTransfer.getData("text/plain"));
  if (!card || card.closest(".column") === column) return;
  const form = card.querySelector("form.move");
  form.querySelector("select[name=stage]").value = column.dataset.stage;
  form.requestSubmit();
});

// Import progress: poll the status endpoint and show the rows done; reload when finished.
const importStatus = document.getElementById("import-status");
if (importStatus && importStatus.dataset.statusUrl) {
  const poll = async () => {
    const response = await fetch(importStatus.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const status = await response.json();
    const done = status.run ? status.run.rows_done : 0;
    importStatus.querySelector("progress").value = done;
    importStatus.querySelector("[data-testid=rows-done]").textContent = String(done);
    if (!status.running && (status.run || status.failure)) {
      if (importStatus.dataset.running === "true" || !importStatus.querySelector(".tiles")) {
        window.location.reload();
      }
      return;
    }
    window.setTimeout(poll, 500);
  };
  poll();
}
