"""What the browser tests check on every page they visit: no horizontal overflow, no serious accessibility
violation (axe-core, vendored in tests/vendor, injected into the page), and a screenshot kept as a test
artifact.

Screenshots go to $QEVAL_ARTIFACTS/screenshots (default var/test-artifacts/screenshots, which git ignores):
look at them after a run to see each page at 390 px (a phone) and 1280 px (a laptop).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core-4.14.1" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("QEVAL_ARTIFACTS") or ROOT / "var" / "test-artifacts")
BLOCKING = ("serious", "critical")


def screenshot(page, name: str) -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = folder / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def overflow_px(page) -> int:
    """How far the page is wider than the window (0: nothing to scroll sideways)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def axe_violations(page, *, exclude: list[str] | None = None) -> list[str]:
    """Serious and critical WCAG 2 A/AA violations on the page as it is now, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (exclude) => {
        const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
        const r = await axe.run(context, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                                          resultTypes: ["violations"]});
        return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}));
    }""",
        exclude or [],
    )
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in result if v["impact"] in BLOCKING]


def check_page(page, name: str, *, axe: bool = False, exclude: list[str] | None = None) -> None:
    """Screenshot, overflow and (optionally) axe: the checks every page of these tests gets."""
    screenshot(page, name)
    assert overflow_px(page) <= 0, (
        f"{name}: {overflow_px(page)} px wider than the {page.viewport_size['width']} px window"
    )
    if axe:
        violations = axe_violations(page, exclude=exclude)
        assert violations == [], "\n".join(violations)
