"""The timeline as a person sees it: drawn by a real browser (Chromium, headless, from Debian: `make browser`
installs it), screenshotted, and its text read back from the page the browser laid out.

A screenshot of each picture is kept in artifacts/screenshots/ (look at it); the assertions read what Chromium
rendered: the outcome in the title, the legend, the sidecar and dependsOn marks, the array's summary and child
rows, the abort marker, and that nothing is wider than the window or cut off at its edge.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from ecsrun.cli.timeline import Outcome, Span, render_svg

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

# Runs inside the page once laid out: what the browser drew, as JSON in <pre id="out">.
_PROBE = """
<script>
window.addEventListener("load", () => {
  const svg = document.querySelector("svg");
  const box = svg.getBoundingClientRect();
  const texts = (selector) => Array.from(svg.querySelectorAll(selector)).map((e) => e.textContent);
  const clipped = Array.from(svg.querySelectorAll("text")).filter((t) => {
    const b = t.getBoundingClientRect();
    return t.textContent && (b.right > box.right + 1 || b.left < box.left - 1);
  }).map((t) => t.textContent);
  document.getElementById("out").textContent = JSON.stringify({
    windowWidth: window.innerWidth,
    svgWidth: box.width,
    pageWidth: document.documentElement.scrollWidth,
    title: texts("text.title"),
    outcome: texts("text.outcome"),
    legend: texts("g.legend-item text"),
    summary: texts("g.summary text"),
    groups: texts("g.group text"),
    cuts: texts("g.cut text"),
    arrows: svg.querySelectorAll("path.depends").length,
    sidecars: svg.querySelectorAll('g.span[data-role="sidecar"]').length,
    clipped: clipped,
  });
});
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is not installed: `make browser` installs Debian's (apt-get install chromium)"
    return found


def _browser(*args: str) -> subprocess.CompletedProcess[str]:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _laid_out(svg: str, tmp_path: Path, width: int) -> dict:
    page = tmp_path / "page.html"
    page.write_text(f'<!doctype html><html><body style="margin:0">{svg}<pre id="out"></pre>{_PROBE}</body></html>')
    done = _browser(f"--window-size={width},900", "--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, flags=re.S)
    assert found and found.group(1), done.stderr[-2000:]
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def _screenshot(svg: str, tmp_path: Path, name: str, width: int) -> Path:
    source = tmp_path / f"{name}.svg"
    source.write_text(svg)
    shot = tmp_path / f"{name}.png"
    done = _browser(f"--screenshot={shot}", f"--window-size={width},700", source.as_uri())
    assert shot.is_file() and shot.stat().st_size > 5000, done.stderr[-2000:]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOTS / shot.name)
    return shot


def _array_run() -> list[Span]:
    """An array run of three children, one aborted mid-task, each with an app and a log-router sidecar that
    starts first (dependsOn START): times from the clock, as a run drawn now would have them."""
    t = time.time()
    spans = [
        Span("execution", "execution nightly-7f3a", t, t + 30, "FAILED"),
        Span("state", "ValidateRequest", t + 0.1, t + 0.4),
        Span("map", "RunChildren", t + 0.5, t + 28, "the array's children"),
        Span("logs", "CopyLogs", t + 28, t + 29.5, "the log copy to S3"),
    ]
    for index, (status, stop) in enumerate([("SUCCEEDED", 12.0), ("ABORTED", 9.0), ("FAILED", 20.0)]):
        child, begin = f"nightly-{index}", t + 1 + index
        mark = "aborted" if status == "ABORTED" else ""
        spans += [
            Span("execution", f"execution {child}-ab12", begin, begin + stop + 1, status, group=child, mark=mark),
            Span("attempt", "StartTaskAndWait (attempt 1)", begin + 0.2, begin + stop, group=child, mark=mark),
            Span("task", f"task 0{index}abcdef", begin + 0.5, begin + stop - 0.2, group=child),
            Span("container", "container log-router", begin + 0.6, begin + stop - 0.3, group=child, role="sidecar"),
            Span(
                "container",
                "container app",
                begin + 0.9,
                begin + stop - 0.5,
                group=child,
                role="essential",
                depends_on=(("log-router", "START"),),
            ),
        ]
    return spans


@pytest.mark.parametrize("width", [900, 1600])
def test_an_array_runs_timeline_reads_well_in_a_browser(tmp_path: Path, width: int) -> None:
    # Given the picture of a failed array run with an aborted child, sidecars and dependsOn
    outcome = Outcome("FAILED", "Run.ArrayFailed", ())
    svg = render_svg(_array_run(), "ecsrun run nightly", outcome)
    # When Chromium draws it in a window of this width
    shot = _screenshot(svg, tmp_path, f"timeline-array-{width}", width)
    seen = _laid_out(svg, tmp_path, width)
    # Then it fits the window (no horizontal scrolling) and nothing is cut off at its edges
    assert shot.is_file()
    assert seen["svgWidth"] <= seen["windowWidth"] and seen["pageWidth"] <= seen["windowWidth"]
    assert seen["clipped"] == []
    # And the title carries the outcome and the error name, and the legend says what each mark means
    assert seen["title"] == ["ecsrun run nightly"]
    assert seen["outcome"] == ["FAILED · Run.ArrayFailed"]
    assert {"execution", "task attempt", "ECS task", "essential container", "sidecar", "dependsOn"} <= set(
        seen["legend"]
    )
    assert "aborted / timed out" in seen["legend"]
    # And the children are grouped under rows that name them, after a summary row
    assert seen["summary"] == ["array: 3 children: 1 ABORTED, 1 FAILED, 1 SUCCEEDED"]
    assert seen["groups"] == ["child nightly-0  SUCCEEDED", "child nightly-1  ABORTED", "child nightly-2  FAILED"]
    # And the abort is marked where it happened; each child's app has its arrow from the sidecar it waits for
    assert len(seen["cuts"]) == 1 and seen["cuts"][0].startswith("aborted +") and "(nightly-1)" in seen["cuts"][0]
    assert seen["arrows"] == 3 and seen["sidecars"] == 3


def test_a_failed_runs_title_names_the_error_and_every_exit_code(tmp_path: Path) -> None:
    # Given a single run that failed on its essential container, with a sidecar that exited 0
    t = time.time()
    spans = [
        Span("execution", "execution failing-demo-1", t, t + 3, "FAILED"),
        Span("container", "container app", t + 1, t + 2, role="essential", depends_on=(("envoy", "START"),)),
        Span("container", "container envoy", t + 0.8, t + 2.2, role="sidecar"),
    ]
    outcome = Outcome("FAILED", "ECS.ContainerExitedNonZero", (("app", 3), ("envoy", 0), ("init", None)))
    svg = render_svg(spans, "ecsrun local run failing-demo", outcome)
    # When Chromium draws it
    _screenshot(svg, tmp_path, "timeline-failed", 1000)
    seen = _laid_out(svg, tmp_path, 1000)
    # Then the outcome line reads as a person says it: no Python value anywhere
    assert seen["outcome"] == ["FAILED · ECS.ContainerExitedNonZero · exit codes: app 3, envoy 0, init no exit code"]
    assert "None" not in svg and "{'" not in svg
    assert seen["clipped"] == [] and seen["arrows"] == 1
