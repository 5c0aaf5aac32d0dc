"""axe-core over every page a browser journey visits; serious or critical violations fail it.

axe-core comes from the npm registry through the project's package.json and package-lock.json
(`make install` runs `npm ci`; the journeys run it themselves when node_modules is missing) and
is injected by Playwright into every document (an init script, so no CDN and no change to the
Content-Security-Policy). Each browser context gets an `AccessibilityCheck` (tests/e2e/conftest.py
wraps `browser.new_context`); it runs axe on a page

- once each document has loaded: the document runs axe itself and reports through a binding,
  and every main-frame navigation request is held by a route until the document it leaves has
  reported, so a journey that clicks on at once loses nothing;
- at every screenshot a journey takes (`Shots`), which covers pages htmx changed in place;
- when the context closes or the test ends, for the pages still open.

The test then fails listing each violation: page, rule, impact, what to fix and the elements.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")

# Runs in every top-level HTML document: says it exists at once, checks itself once loaded.
RUNNER = """(() => {
  if (window !== window.top || !window.axe || !/^https?:$/.test(location.protocol)) return;
  const id = Math.random().toString(36).slice(2) + Date.now().toString(36);
  window.__a11yStarted(id);
  const run = async () => {
    if (document.contentType !== "text/html") return window.__a11yReport(id, location.href, null);
    window.__a11yReport(id, location.href, await window.__a11yRun(%(impacts)s));
  };
  if (document.readyState === "complete") run(); else window.addEventListener("load", run);
})();"""

RUN_AXE = """window.__a11yRun = async (impacts) => {
  const results = await window.axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.slice(0, 5).map((n) => ({
        target: n.target.join(" "), html: n.html.slice(0, 240), summary: n.failureSummary || "",
      })),
    }));
};"""
CHECK_NOW = """async (impacts) => (window.__a11yRun && document.contentType === "text/html")
  ? await window.__a11yRun(impacts) : null"""
# How long a navigation waits for the page it leaves to finish loading and being checked.
# Kept under the 10 s a journey's click waits for its navigation; a page that takes longer is
# listed as not checked (a loaded machine), never blocks the journey.
WAIT_FOR_REPORT_SECONDS = 6


def axe_script() -> Path:
    """The axe-core build the journeys inject; `npm ci` from the lock file when it is missing."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "axe-core is not installed and npm is missing: install Node.js and npm, then run "
                "`make install` (npm ci) so the browser journeys can check accessibility."
            )
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PROJECT_ROOT,
            check=True,
        )
    return AXE_SCRIPT


@dataclass(frozen=True)
class Violation:
    url: str
    rule: str
    impact: str
    help: str
    help_url: str
    nodes: tuple[tuple[str, str, str], ...]

    def describe(self) -> str:
        lines = [f"{self.impact.upper()} {self.rule} on {self.url}: {self.help} ({self.help_url})"]
        for target, html, summary in self.nodes:
            lines.append(f"    at {target}: {html}")
            if summary:
                lines.extend(f"        {part}" for part in summary.splitlines() if part.strip())
        return "\n".join(lines)


@dataclass
class AccessibilityCheck:
    """The axe findings of one browser context."""

    violations: list[Violation] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _documents: dict[object, str] = field(default_factory=dict)  # page -> its document's id
    _reported: set[str] = field(default_factory=set)

    def install(self, context) -> None:
        impacts = json.dumps(list(BLOCKING_IMPACTS))
        context.expose_binding("__a11yStarted", self._started)
        context.expose_binding("__a11yReport", self._report)
        context.add_init_script(path=str(axe_script()))
        context.add_init_script(script=RUN_AXE)
        context.add_init_script(script=RUNNER % {"impacts": impacts})
        context.route("**/*", self._before_request)

    def _started(self, source, document_id: str) -> None:
        self._documents[source["page"]] = document_id

    def _report(self, source, document_id: str, url: str, found) -> None:
        self._reported.add(document_id)
        if found is not None:
            self._record(url, found)

    def _before_request(self, route) -> None:
        """Hold a page's navigation until the document it leaves has reported its check.

        A page cannot be evaluated while its navigation is held (Playwright waits for the new
        document), so the document checks itself on load and reports through a binding.
        """
        request = route.request
        try:
            frame = request.frame
        except Exception:  # a service worker's request has no frame
            frame = None
        if frame is not None and frame.parent_frame is None and request.is_navigation_request():
            page = frame.page
            document_id = self._documents.get(page)
            deadline = time.monotonic() + WAIT_FOR_REPORT_SECONDS
            while document_id is not None and document_id not in self._reported:
                if time.monotonic() > deadline or page.is_closed():
                    self.unchecked.append(page.url)
                    break
                page.wait_for_timeout(50)
        route.fallback()

    def check(self, page) -> list[Violation]:
        """Run axe on the page as it is now (a screenshot point, the end of the test)."""
        from playwright.sync_api import Error

        if page.is_closed() or not page.url.startswith(("http://", "https://")):
            return []
        try:
            found = page.evaluate(CHECK_NOW, list(BLOCKING_IMPACTS))
        except Error:
            # The document went away mid-run (a redirect the page made itself, a closed tab).
            return []
        if found is None:
            return []
        return self._record(page.url, found)

    def _record(self, url: str, found: list[dict]) -> list[Violation]:
        self.checked.append(url)
        new = []
        for item in found:
            violation = Violation(
                url=url,
                rule=item["id"],
                impact=item["impact"],
                help=item["help"],
                help_url=item["helpUrl"],
                nodes=tuple((n["target"], n["html"], n["summary"]) for n in item["nodes"]),
            )
            key = (violation.url.split("?")[0], violation.rule)
            if key not in self._seen:
                self._seen.add(key)
                self.violations.append(violation)
            new.append(violation)
        return new

    def check_open_pages(self, context) -> None:
        for page in list(context.pages):
            self.check(page)

    def report(self) -> str:
        header = (
            f"axe-core found {len(self.violations)} serious or critical accessibility "
            f"violation(s) (pages checked: {len(self.checked)}):"
        )
        lines = [header, *(v.describe() for v in self.violations)]
        if self.unchecked:
            left = ", ".join(self.unchecked)
            lines.append(f"Not checked (left before they finished loading): {left}")
        return "\n".join(lines)

    def forget(self) -> None:
        """Drop what was found (for tests of the check itself)."""
        self.violations.clear()
        self._seen.clear()
