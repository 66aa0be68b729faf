"""Render the Quarto report to one self-contained HTML file, with Quarto or the fallback.

Two renderers, chosen by ``XENT_RENDERER`` (``auto``, the default: Quarto when
``quarto`` is on PATH, else the fallback; ``quarto``; ``fallback``):

- **Quarto**: ``quarto render`` with the project's ``_quarto.yml``
  (``embed-resources``, MathML, table of contents), parameters through
  papermill (``--execute-params``), the kernel run by this Python
  (``QUARTO_PYTHON``).
- **Fallback** (pip-only installs, no Quarto): parses the same ``.qmd``
  (:mod:`experiments.report.qmd`), executes it with nbclient, converts it with
  nbconvert's ``basic`` template inside a small page of our own: figures as
  data URIs, code folded in ``<details>``, math as MathML, a table of contents.

Both render from a scratch copy of ``report/`` in the system's temporary
folder, so nothing is written next to the sources. The scratch folder's name
has no leading dot: Quarto ignores a ``_quarto.yml`` inside a hidden folder
(found here: such a render silently lost ``embed-resources`` and the TOC).

``python3 -m experiments.report.render RESULTS_DIR OUTPUT [--renderer R]`` renders
the report of an existing ``results/`` folder (CI uses it to render the
default run with both renderers).
"""

from __future__ import annotations

import argparse
import base64
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import nbformat
import yaml

from .qmd import inject_parameters, qmd_to_notebook

RENDERERS = ("auto", "quarto", "fallback")
RENDERER_ENV = "XENT_RENDERER"
REPORT_DIR = Path(__file__).resolve().parents[2] / "report"   # the Quarto project beside the package


class RenderError(RuntimeError):
    """The report cannot be rendered; the message is one line saying why and what to do."""


def quarto_path() -> str | None:
    return shutil.which("quarto")


def choose_renderer(requested: str | None = None) -> str:
    """``quarto`` or ``fallback``: ``requested`` (else ``$XENT_RENDERER``, else ``auto``) resolved here.

    Raises :class:`RenderError` for an unknown name, or ``quarto`` without Quarto on PATH.
    """
    requested = requested or os.environ.get(RENDERER_ENV) or "auto"
    if requested not in RENDERERS:
        raise RenderError(f"{RENDERER_ENV}={requested!r} is not a renderer: use one of {', '.join(RENDERERS)}")
    if requested == "auto":
        return "quarto" if quarto_path() else "fallback"
    if requested == "quarto" and quarto_path() is None:
        raise RenderError("the quarto renderer was asked for but `quarto` is not on PATH: install Quarto "
                          "(conda-forge package `quarto`, or https://quarto.org/docs/get-started/), "
                          f"or render with the fallback ({RENDERER_ENV}=fallback)")
    return requested


def renderer_version(renderer: str) -> str:
    """What renders, with its version, e.g. ``quarto 1.10.18`` or ``fallback (nbclient 0.10.2, nbconvert 7.16.6)``."""
    if renderer == "quarto":
        proc = subprocess.run([quarto_path() or "quarto", "--version"], capture_output=True, text=True)
        return f"quarto {proc.stdout.strip() or 'unknown version'}"
    return f"fallback (nbclient {metadata.version('nbclient')}, nbconvert {metadata.version('nbconvert')})"


def render_report(report_dir: Path | str, qmd_name: str, output: Path | str, params: dict,
                  renderer: str | None = None, log=print) -> str:
    """Render ``report_dir/qmd_name`` with ``params`` into ``output``; return the renderer used
    (name and version).

    ``params`` go to the document's ``parameters`` cell; the renderer's name and
    version are added as ``renderer``. The output is written atomically.
    """
    kind = choose_renderer(renderer)
    name = renderer_version(kind)
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    params = dict(params, renderer=name)
    log(f"rendering {qmd_name} with {name}")
    with tempfile.TemporaryDirectory(prefix="xent-render-") as scratch:
        work = Path(scratch) / "report"
        shutil.copytree(report_dir, work)
        render = _render_quarto if kind == "quarto" else _render_fallback
        html_path = render(work, qmd_name, params, log)
        tmp = output.with_name(f".{output.name}.tmp")
        shutil.copyfile(html_path, tmp)
        os.replace(tmp, output)
    log(f"wrote {output}")
    return name


def _render_quarto(work: Path, qmd_name: str, params: dict, log) -> Path:
    # Parameters in a YAML file (any string survives, spaces included); papermill injects them.
    (work / "_params.yml").write_text(yaml.safe_dump(params))
    cmd = [quarto_path() or "quarto", "render", qmd_name, "--to", "html", "--execute-params", "_params.yml"]
    env = dict(os.environ, QUARTO_PYTHON=sys.executable)   # the kernel runs in this Python, which has `experiments`
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
    log(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RenderError(f"quarto render failed with exit code {proc.returncode}: {last} (whole log above)")
    return work / (Path(qmd_name).stem + ".html")


# --- fallback -----------------------------------------------------------------

def execute_qmd(path: Path, params: dict, timeout: int = 900) -> tuple[dict, nbformat.NotebookNode]:
    """Parse and execute a ``.qmd`` in its own directory; return (front matter, executed notebook)."""
    from nbclient import NotebookClient

    front, nb = qmd_to_notebook(path.read_text())
    inject_parameters(nb, params)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return front, nb


def _figure_html(data: dict, opts: dict, number: int) -> str:
    alt = html.escape(str(opts.get("fig-alt", opts.get("fig-cap", f"Figure {number}"))), quote=True)
    label = opts.get("label", f"fig-{number}")
    if "image/svg+xml" in data:
        src = "data:image/svg+xml;base64," + base64.b64encode(data["image/svg+xml"].encode()).decode()
    else:
        src = "data:image/png;base64," + data["image/png"].replace("\n", "")
    cap = opts.get("fig-cap")
    caption = f"<figcaption>Figure {number}: {html.escape(str(cap))}</figcaption>" if cap else ""
    return (f'<figure id="{html.escape(str(label))}" class="figure">'
            f'<img src="{src}" alt="{alt}">{caption}</figure>')


def _html_output(html_text: str) -> nbformat.NotebookNode:
    """A display output carrying HTML (outputs are not sanitised; raw cells would be)."""
    return nbformat.v4.new_output("display_data", data={"text/html": html_text})


# A Markdown output that is one raw HTML block (experiments.report.display emits tables this way).
_RAW_HTML_BLOCK = re.compile(r"\A\s*```\{=html\}\n(.*)\n```\s*\Z", re.S)


def raw_html(markdown: str) -> str | None:
    """The HTML inside a Markdown text that is exactly one ```` ```{=html} ```` block, else None."""
    m = _RAW_HTML_BLOCK.match(markdown)
    return m.group(1) if m else None


_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)(.+?)(?<![\s\\])\$", re.S)


def math_to_mathml(markdown: str) -> str:
    """Replace ``$...$`` and ``$$...$$`` (outside code spans) with MathML, which
    browsers render with no script and no network."""
    from latex2mathml.converter import convert

    def conv(m: re.Match) -> str:
        if m.group(1) is not None:
            return convert(m.group(1).strip(), display="block")
        return convert(m.group(2))

    out, pos = [], 0
    for code in _CODE_SPAN.finditer(markdown):
        out.append(_MATH.sub(conv, markdown[pos:code.start()]))
        out.append(code.group(0))
        pos = code.end()
    out.append(_MATH.sub(conv, markdown[pos:]))
    return "".join(out)


def _shown_output(out: nbformat.NotebookNode, opts: dict, fig_no: int) -> tuple[nbformat.NotebookNode, int]:
    """One output as the fallback shows it: figures numbered and embedded, raw HTML blocks unwrapped,
    Markdown math as MathML. Returns (output, figure number so far)."""
    if out.output_type not in ("display_data", "execute_result"):
        return out, fig_no
    if "image/png" in out.data or "image/svg+xml" in out.data:
        return _html_output(_figure_html(out.data, opts, fig_no + 1)), fig_no + 1
    if "text/markdown" in out.data:
        raw = raw_html(out.data["text/markdown"])
        if raw is not None:
            return _html_output(raw), fig_no
        out.data["text/markdown"] = math_to_mathml(out.data["text/markdown"])
    return out, fig_no


def present(nb: nbformat.NotebookNode, defaults: dict | None = None) -> nbformat.NotebookNode:
    """Apply Quarto's cell options to an executed notebook, as Quarto would show it:
    ``include``, ``echo``, ``output``, ``warning``, folded code, numbered and
    captioned figures and tables, raw HTML blocks. ``defaults`` are the document's ``execute`` options."""
    cells = []
    fig_no = tbl_no = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source)
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        opts = {**(defaults or {}), **cell.metadata.get("quarto", {})}
        if opts.get("include") is False:
            continue
        shown = []
        if opts.get("echo", True) is not False and cell.source.strip():
            shown.append(_html_output('<details class="code-fold"><summary>Code</summary>'
                                      '<pre><code class="python">' + html.escape(cell.source)
                                      + "</code></pre></details>"))
        if opts.get("tbl-cap") and opts.get("output", True) is not False:
            tbl_no += 1
            shown.append(_html_output(f'<p class="table-caption" id="{html.escape(str(opts.get("label", "")))}">'
                                      f"Table {tbl_no}: {html.escape(str(opts['tbl-cap']))}</p>"))
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                raise RenderError(f"report cell failed: {out.ename}: {out.evalue}")
            if opts.get("output", True) is False:
                continue
            if out.output_type == "stream" and out.name == "stderr" and opts.get("warning", True) is False:
                continue
            out, fig_no = _shown_output(out, opts, fig_no)
            shown.append(out)
        cell.outputs = shown
        cells.append(cell)
    nb.cells = cells
    return nb


_HEADING = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', re.S)


def table_of_contents(body: str) -> str:
    """A ``<nav id="TOC">`` linking every ``<h2 id=...>`` of ``body`` (what Quarto's ``toc: true`` gives)."""
    items = []
    for anchor, inner in _HEADING.findall(body):
        text = re.sub(r"<[^>]+>", "", inner).replace("¶", "").strip()
        items.append(f'<li><a href="#{anchor}">{html.escape(text)}</a></li>')
    if not items:
        return ""
    return f'<nav id="TOC" role="doc-toc"><h2 id="toc-title">Contents</h2><ul>{"".join(items)}</ul></nav>'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.55;color:#212529;
max-width:1100px;margin:2rem auto;padding:0 1.5rem}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #dee2e6;padding-bottom:.3rem;margin-top:2.2rem}
pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;font-size:.85rem}
details.code-fold summary{cursor:pointer;color:#6c757d;font-size:.9rem}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto}
figcaption,.table-caption{font-size:.9rem;color:#495057;margin-top:.4rem}
table{border-collapse:collapse;font-size:.85rem;margin:.8rem 0}
th,td{border-bottom:1px solid #dee2e6;padding:.25rem .6rem;text-align:right}
.jp-RenderedHTMLCommon,.jp-OutputArea-output{overflow-x:auto}
a.anchor-link{visibility:hidden;text-decoration:none;margin-left:.3rem}h2:hover a.anchor-link{visibility:visible}
.xent-table{max-width:100%;overflow-x:auto}.xent-table table.dataTable{font-size:.88rem;line-height:1.35}.xent-csv{font-size:.85rem;margin:.2rem 0 1rem}
.callout-note,.callout-warning{border-left:4px solid #0d6efd;background:#f1f6ff;padding:.5rem 1rem;margin:1rem 0}
.callout-warning{border-color:#ffc107;background:#fff8e1}
.jp-OutputPrompt,.jp-InputPrompt{display:none}
nav#TOC{border:1px solid #dee2e6;border-radius:.3rem;padding:.4rem 1rem;margin:1rem 0;font-size:.92rem}
nav#TOC h2{border:0;margin:.2rem 0;font-size:1rem}nav#TOC ul{margin:.2rem 0;padding-left:1.2rem}
footer{margin-top:3rem;color:#6c757d;font-size:.85rem;border-top:1px solid #dee2e6;padding-top:.6rem}
@media (min-width:1200px){body{max-width:900px;margin:2rem 290px 2rem max(1.5rem,calc(50vw - 600px))}
nav#TOC{position:fixed;top:1.5rem;right:1.5rem;width:250px;max-height:92vh;overflow-y:auto;margin:0}}
"""


def _render_fallback(work: Path, qmd_name: str, params: dict, log=print) -> Path:
    from nbconvert import HTMLExporter

    front, nb = execute_qmd(work / qmd_name, params)
    project = work / "_quarto.yml"
    settings = (yaml.safe_load(project.read_text()) or {}) if project.exists() else {}
    defaults = settings.get("execute", {})
    css = (settings.get("format", {}).get("html", {}) or {}).get("css", [])       # the project's own, as Quarto
    css = "\n".join((work / c).read_text() for c in ([css] if isinstance(css, str) else css) if (work / c).exists())
    nb = present(nb, {**defaults, **front.get("execute", {})})
    exporter = HTMLExporter(template_name="basic", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    title = html.escape(str(front.get("title", Path(qmd_name).stem)))
    subtitle = front.get("subtitle")
    header = f"<h1>{title}</h1>" + (f"<p><em>{html.escape(str(subtitle))}</em></p>" if subtitle else "")
    renderer = html.escape(str(params.get("renderer", renderer_version("fallback"))))
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="{renderer}">'
            f"<title>{title}</title><style>{_CSS}\n{css}</style></head>\n<body><header>{header}</header>\n"
            f"{table_of_contents(body)}\n<main>{body}</main>\n<footer>Rendered by {renderer}."
            f"</footer></body></html>\n")
    out = work / (Path(qmd_name).stem + ".html")
    out.write_text(page)
    return out


# --- command line ---------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m experiments.report.render",
                                 description="Render the report of a results/ folder into one HTML file.")
    ap.add_argument("results_dir", type=Path, help="the pipeline's results/ folder")
    ap.add_argument("output", type=Path, help="the HTML file to write")
    ap.add_argument("--renderer", choices=RENDERERS, default=None,
                    help=f"default: ${RENDERER_ENV}, else auto (Quarto when on PATH)")
    ap.add_argument("--report-dir", type=Path, default=REPORT_DIR,
                    help="the Quarto project (default: report/ of this checkout)")
    args = ap.parse_args(argv)
    if not (args.report_dir / "report.qmd").exists():
        print(f"render error: no report.qmd in {args.report_dir} (give --report-dir)", file=sys.stderr)
        return 1
    try:
        render_report(args.report_dir, "report.qmd", args.output,
                      params={"results_dir": str(args.results_dir.resolve())}, renderer=args.renderer)
    except RenderError as err:
        print(f"render error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
