// Loaded without `defer` from <head>: the "js" class is set before the first paint, so the
// collapsed menu never flashes open. Everything else waits for the document or uses delegation.
document.documentElement.classList.add("js");

// Copy buttons: <button data-copy-target="#id">Copy</button> copies the text of the target.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const target = document.querySelector(button.dataset.copyTarget);
  if (!target) return;
  const text = ("value" in target ? target.value : target.innerText).trim();
  try {
    await navigator.clipboard.writeText(text);
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  } catch (err) {
    button.textContent = "Select and copy manually";
  }
});

// The header menu on small screens: the button opens and closes it. Without JavaScript the
// menu is simply shown in full (the CSS collapses it only under the "js" class).
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".nav-toggle");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") === "true";
  toggle.setAttribute("aria-expanded", String(!open));
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const toggle = document.querySelector('.nav-toggle[aria-expanded="true"]');
  if (!toggle) return;
  toggle.setAttribute("aria-expanded", "false");
  toggle.focus();
});

// Tables become cards on small screens; each cell is labelled with its column's heading so a
// card still says what each value is. Cells that already carry a label keep it.
function labelTableCells(root) {
  root.querySelectorAll("table").forEach((table) => {
    const headings = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    if (!headings.length) return;
    table.querySelectorAll("tbody tr").forEach((row) => {
      let column = 0;
      Array.from(row.children).forEach((cell) => {
        if (!cell.hasAttribute("data-label") && headings[column]) cell.setAttribute("data-label", headings[column]);
        column += cell.colSpan || 1;
      });
    });
  });
}
document.addEventListener("DOMContentLoaded", () => labelTableCells(document));
// Fragments swapped in by htmx (live timelines, usage rows) get their labels too.
document.addEventListener("htmx:afterSwap", () => labelTableCells(document));

// A form sent back with errors: move the focus to its error summary, so a screen reader reads
// what to fix and the keyboard starts from there (each error links to its field).
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
});

// A link in the error summary moves the focus into its field, not only the view.
document.addEventListener("click", (event) => {
  const link = event.target.closest("[data-error-summary] a[href^='#']");
  if (!link) return;
  const field = document.getElementById(link.getAttribute("href").slice(1));
  if (!field) return;
  event.preventDefault();
  field.focus();
  field.scrollIntoView({block: "center"});
});
