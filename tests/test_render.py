"""Both renderers: Quarto's syntax in, one self-contained page out; choosing a renderer."""
import os
import re

import pytest

from conftest import REMOTE_LOADS

from experiments.report import render
from experiments.report.qmd import QmdError, inject_parameters, qmd_to_notebook
from experiments.report.render import RenderError, choose_renderer, math_to_mathml, render_report

DOC = '''---
title: "A test report"
---

```{python}
#| tags: [parameters]
#| echo: false
value = 1
renderer = "?"
```

Intro with math $a^2 + b^2$ and code `x$y$`.

::: {.callout-note}
A note **in bold**.
:::

```{python}
#| label: fig-line
#| fig-cap: "A line of slope VALUE."
#| fig-alt: "A straight line."
import matplotlib.pyplot as plt
plt.plot([0, 1], [0, value])
```

```{python}
#| echo: false
from IPython.display import Markdown, display
display(Markdown(f"The value is **{value * 10}**."))
```

```{python}
#| include: false
hidden_marker = "SHOULD-NOT-APPEAR"
print(hidden_marker)
```

## A table

```{python}
#| label: tbl-one
#| tbl-cap: "One interactive table."
import pandas as pd
from experiments.report.display import Page
Page().table(pd.DataFrame({"loss": ["a", "b"], "lr": [0.1, 0.25]}), table_id="the-table")
```
'''


def test_parse_cells_options_and_divs():
    front, nb = qmd_to_notebook(DOC)
    assert front["title"] == "A test report"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.metadata["quarto"].get("label") for c in code] == [None, "fig-line", None, None, "tbl-one"]
    assert code[0].metadata["tags"] == ["parameters"]
    assert not any("#|" in c.source for c in code)
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert '<div class="callout-note">' in md and ":::" not in md


def test_inject_parameters_after_parameters_cell():
    _, nb = qmd_to_notebook(DOC)
    inject_parameters(nb, {"value": 7})
    idx = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert nb.cells[idx + 1].source == "value = 7"


@pytest.mark.parametrize("bad,says", [
    ("Inline `{python} 1 + 1` here.", "inline code"),
    ("::: {.note}\ntext\n", "never closed"),
    ("```{python}\nx = 1\n", "never closed"),
    (":::\n", "never opened"),
    ("::: {.note}\n```{python}\nx = 1\n```\n:::\n", "inside a ':::' div"),
])
def test_unsupported_or_broken_syntax_is_refused(bad, says):
    with pytest.raises(QmdError, match=re.escape(says)):
        qmd_to_notebook(bad)


def test_math_becomes_mathml_outside_code():
    out = math_to_mathml("see $x_1$ and `cost $5$`")
    assert "<math" in out and "`cost $5$`" in out and "$x_1$" not in out


@pytest.mark.slow
def test_fallback_render_is_self_contained(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "doc.qmd").write_text(DOC)
    (src / "_quarto.yml").write_text("execute:\n  warning: false\n")
    out = tmp_path / "out" / "doc.html"
    used = render_report(src, "doc.qmd", out, params={"value": 3}, renderer="fallback", log=lambda *a: None)
    page = out.read_text()
    assert used.startswith("fallback")
    # no raw Quarto syntax reaches the reader
    for raw in ["{python}", "#|", ":::", "$a^2"]:
        assert raw not in page, raw
    # the parameter reached the document; hidden cells stay hidden
    assert "<strong>30</strong>" in page
    assert "SHOULD-NOT-APPEAR" not in page
    # one captioned figure, embedded, with its alt text
    figs = re.findall(r'<figure[^>]*id="fig-line"[^>]*>(.*?)</figure>', page, re.S)
    assert len(figs) == 1
    img = re.search(r"<img [^>]*>", figs[0]).group(0)
    assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', img)
    assert 'alt="A straight line."' in img
    assert "Figure 1: A line of slope VALUE." in figs[0]
    # nothing is fetched from elsewhere; the footer names the renderer
    assert not REMOTE_LOADS.search(page)
    assert "Rendered by fallback" in page
    assert '<div class="callout-note">' in page and "<math" in page
    # the table's raw HTML block is unwrapped into the page; a table of contents links the sections
    assert 'id="the-table"' in page and "{=html}" not in page and "Table 1: One interactive table." in page
    assert re.search(r'<nav id="TOC"[^>]*>.*<a href="#A-table">A table</a>', page, re.S)
    # nothing was written next to the sources
    assert sorted(p.name for p in src.iterdir()) == ["_quarto.yml", "doc.qmd"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["doc.html"]


QUARTO_PROJECT = """project:
  type: default
format:
  html:
    embed-resources: true
    html-math-method: mathml
    toc: true
"""


@pytest.mark.slow
def test_quarto_render_applies_the_project_and_is_one_offline_file(tmp_path):
    """Regression: a scratch copy in a hidden folder made Quarto ignore _quarto.yml (no embed-resources, no TOC,
    report_files/ never copied), and any HTML output pulled jQuery and require.js from a CDN."""
    if render.quarto_path() is None:
        if os.environ.get("XENT_REQUIRE_QUARTO") == "1":
            pytest.fail("quarto required (XENT_REQUIRE_QUARTO=1) but not on PATH")
        pytest.skip("quarto is not on PATH (bash ../shared/tools/quarto/install.sh)")
    src = tmp_path / "src"
    src.mkdir()
    (src / "doc.qmd").write_text(DOC.replace('title: "A test report"', 'title: "A test report"\njupyter: python3'))
    (src / "_quarto.yml").write_text(QUARTO_PROJECT)
    out = tmp_path / "out" / "doc.html"
    used = render_report(src, "doc.qmd", out, params={"value": 3}, renderer="quarto", log=lambda *a: None)
    page = out.read_text()
    assert re.fullmatch(r"quarto [\d.]+", used)
    assert sorted(p.name for p in out.parent.iterdir()) == ["doc.html"]       # no doc_files/ beside it
    assert sorted(p.name for p in src.iterdir()) == ["_quarto.yml", "doc.qmd"]
    assert '<nav id="TOC"' in page and "<math" in page and "<strong>30</strong>" in page
    assert 'id="the-table"' in page and "{=html}" not in page
    for cdn in ["cdn.jsdelivr.net", "cdnjs.cloudflare.com", "mathjax", "require.min.js"]:
        assert cdn not in page, cdn
    assert not re.search(r'<(script|img)[^>]+src="(?!data:)', page)          # every script and image embedded


def test_renderer_choice(monkeypatch):
    monkeypatch.delenv(render.RENDERER_ENV, raising=False)
    monkeypatch.setattr(render, "quarto_path", lambda: None)
    assert choose_renderer() == "fallback" and choose_renderer("fallback") == "fallback"
    with pytest.raises(RenderError, match=r"^the quarto renderer was asked for but `quarto` is not on PATH: "
                                          r"install Quarto .*XENT_RENDERER=fallback"):
        choose_renderer("quarto")
    monkeypatch.setenv(render.RENDERER_ENV, "latex")
    with pytest.raises(RenderError, match=r"^XENT_RENDERER='latex' is not a renderer: use one of auto, quarto, fallback$"):
        choose_renderer()
    monkeypatch.setattr(render, "quarto_path", lambda: "/usr/bin/quarto")
    monkeypatch.setenv(render.RENDERER_ENV, "auto")
    assert choose_renderer() == "quarto"


def test_asking_for_quarto_without_it_fails_in_one_line_before_rendering(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(render, "quarto_path", lambda: None)
    out = tmp_path / "report.html"
    assert render.main([str(tmp_path), str(out), "--renderer", "quarto"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("render error: the quarto renderer was asked for")
    assert not out.exists()


# What a render may not do (tests/test_render.py::test_the_report_renders_without_torch_and_computes_nothing):
# a sitecustomize on the kernel's path that makes torch unimportable and the bootstraps raise.
NO_COMPUTE = '''
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch may not be imported while the report renders")

sys.meta_path.insert(0, _NoTorch())
import experiments.analysis.stats as _stats

def _refuse(*args, **kwargs):
    raise RuntimeError("the report may not compute a bootstrap while it renders")

_stats.bootstrap = _stats.percentile_interval = _stats.decide = _refuse
'''


@pytest.mark.workflow
@pytest.mark.parametrize("renderer", ["fallback", "quarto"])
def test_the_report_renders_without_torch_and_computes_nothing(smoke_run, repo, tmp_path, monkeypatch, renderer):
    """Every number the report prints is a table the workflow wrote: with torch unimportable and the
    bootstrap refusing to run, the smoke run's report still renders, with both renderers."""
    if renderer == "quarto" and render.quarto_path() is None:
        if os.environ.get("XENT_REQUIRE_QUARTO") == "1":
            pytest.fail("quarto required (XENT_REQUIRE_QUARTO=1) but not on PATH")
        pytest.skip("quarto is not on PATH (bash ../shared/tools/quarto/install.sh)")
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NO_COMPUTE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "report.html"
    render_report(repo / "report", "report.qmd", out, renderer=renderer, log=lambda *a: None,
                  params={"results_dir": str(smoke_run / "results" / "smoke")})
    assert "MSE on sigmoid" in out.read_text()
    # the guard works: a kernel with it cannot import torch
    import subprocess
    import sys
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0 and "may not be imported" in probe.stderr
