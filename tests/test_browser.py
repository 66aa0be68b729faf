"""Open the rendered report in headless Chromium (Debian's, driven by Playwright) with the
network off, and check what a reader sees.

The report is ``$XENT_REPORT`` when set (CI points it at the default run's
report), else the smoke workflow's. Without a browser the test is skipped and
says why; with ``XENT_REQUIRE_BROWSER=1`` (CI) a missing browser is a failure.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.workflow

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SECTIONS = ["Summary", "The lecture, reproduced", "Why MSE with sigmoid learns slowly", "Convergence",
            "Numerical overflow", "Failures", "Methods and provenance"]
RAW = ["{python}", "#|", ":::", "{{", "{%", "```"]


@pytest.fixture(scope="module")
def browser():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if missing:
        if os.environ.get("XENT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(request) -> Path:
    env = os.environ.get("XENT_REPORT")
    if env:
        return Path(env).resolve()
    return request.getfixturevalue("smoke_run") / "results" / "report.html"


@pytest.fixture(scope="module")
def page(browser, report):
    ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    requests = []
    ctx.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                     if route.request.url.startswith(("file:", "data:")) else route.abort()))
    pg = ctx.new_page()
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(report.as_uri(), wait_until="load")
    pg.wait_for_load_state("networkidle")
    pg.screenshot(path=str(report.with_suffix(".png")), full_page=True)
    yield pg, errors, requests
    ctx.close()


def test_no_console_errors_and_nothing_fetched(page):
    pg, errors, requests = page
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []


def test_every_figure_loaded_with_nonzero_size(page):
    pg, _, _ = page
    imgs = pg.evaluate("""Array.from(document.querySelectorAll('img, svg')).map(e => ({
        tag: e.tagName, ok: e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0),
        w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height}))""")
    figures = [i for i in imgs if i["tag"] == "IMG"]
    assert len(figures) >= 5
    for i in imgs:
        if i["tag"] == "IMG":
            assert i["ok"] and i["w"] > 0 and i["h"] > 0, i


def test_every_section_is_present(page):
    pg, _, _ = page
    headings = [h.strip().rstrip("¶") for h in pg.eval_on_selector_all("h2", "els => els.map(e => e.innerText)")]
    for s in SECTIONS:
        assert s in headings, (s, headings)


def test_no_raw_quarto_or_template_syntax_is_visible(page):
    pg, _, _ = page
    text = pg.inner_text("body")
    for raw in RAW:
        assert raw not in text, raw
    assert not re.search(r"\$[^$\s][^$]*\$", text), "unrendered math"


def test_screenshot_is_written_next_to_the_report(page, report):
    shot = report.with_suffix(".png")
    assert shot.exists() and shot.stat().st_size > 50_000


def _column(pg, table_id: str, col: int, visible_only: bool = True) -> list[str]:
    return pg.evaluate("""([id, col, vis]) => Array.from(document.querySelectorAll('#' + id + ' tbody tr'))
        .filter(r => !vis || !r.hidden).map(r => r.cells[col].getAttribute('data-v'))""", [table_id, col, visible_only])


def test_summary_table_sorts_and_filters(page):
    """Runs last in this module: it changes the page (after the screenshot was taken)."""
    pg, errors, _ = page
    root = pg.locator("#summary-table")
    headers = root.locator("thead th").all_inner_texts()
    n_rows = root.locator("tbody tr").count()
    assert n_rows > 1 and root.locator(".xt-count").inner_text() == f"{n_rows} of {n_rows} rows"

    col = headers.index("steps (median)")
    root.locator("thead th").nth(col).click()
    up = [float(v) for v in _column(pg, "summary-table", col) if v != ""]
    assert up == sorted(up) and len(up) > 1
    root.locator("thead th").nth(col).click()
    down = [float(v) for v in _column(pg, "summary-table", col) if v != ""]
    assert down == sorted(up, reverse=True)

    loss_col = headers.index("loss")
    loss = max(set(_column(pg, "summary-table", loss_col)), key=len)  # no other loss name contains it
    root.locator("input").fill(loss)
    kept = _column(pg, "summary-table", loss_col)
    assert 0 < len(kept) < n_rows and set(kept) == {loss}
    assert root.locator(".xt-count").inner_text() == f"{len(kept)} of {n_rows} rows"
    root.locator("input").fill("")
    assert len(_column(pg, "summary-table", loss_col)) == n_rows
    assert errors == []
