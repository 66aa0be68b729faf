"""Render the Quarto report to one self-contained HTML file.

With ``quarto`` on PATH: ``quarto render`` (the report's ``_quarto.yml`` sets
``embed-resources: true``). Without it, the fallback executes the same ``.qmd``
with nbclient and converts it with nbconvert's ``basic`` HTML template inside a
small page of our own, with figures embedded as data URIs, code folded in
``<details>`` and no external resource. Both render from a scratch copy of
``report/``, so nothing is written next to the sources.
"""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import yaml

from .qmd import inject_parameters, qmd_to_notebook

FALLBACK = "fallback (nbclient + nbconvert)"


def quarto_path() -> str | None:
    return shutil.which("quarto")


def renderer_name() -> str:
    """What :func:`render_report` will use here, e.g. ``quarto 1.6.40``."""
    q = quarto_path()
    if q is None:
        return FALLBACK
    version = subprocess.run([q, "--version"], capture_output=True, text=True).stdout.strip()
    return f"quarto {version}"


def render_report(report_dir: Path | str, qmd_name: str, output: Path | str, params: dict,
                  renderer: str = "auto", log=print) -> str:
    """Render ``report_dir/qmd_name`` with ``params`` into ``output``; return the renderer used.

    ``params`` values are passed to the document's ``parameters`` cell; the
    renderer's name is added as ``renderer``.
    """
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    use_quarto = renderer == "quarto" or (renderer == "auto" and quarto_path() is not None)
    name = renderer_name() if use_quarto else FALLBACK
    params = dict(params, renderer=name)
    log(f"rendering {qmd_name} with {name}")
    with tempfile.TemporaryDirectory(prefix=".render-", dir=output.parent) as scratch:
        work = Path(scratch) / "report"
        shutil.copytree(report_dir, work)
        if use_quarto:
            html_path = _render_quarto(work, qmd_name, params, log)
        else:
            html_path = _render_fallback(work, qmd_name, params)
        tmp = output.with_name(f".{output.name}.tmp")
        shutil.copyfile(html_path, tmp)
        os.replace(tmp, output)
    log(f"wrote {output}")
    return name


def _render_quarto(work: Path, qmd_name: str, params: dict, log) -> Path:
    cmd = ["quarto", "render", qmd_name, "--to", "html"]
    for k, v in params.items():
        cmd += ["-P", f"{k}:{v}"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    log(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"quarto render failed with exit code {proc.returncode}")
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


def present(nb: nbformat.NotebookNode, defaults: dict | None = None) -> nbformat.NotebookNode:
    """Apply Quarto's cell options to an executed notebook, as Quarto would show it:
    ``include``, ``echo``, ``output``, ``warning``, folded code, numbered and
    captioned figures and tables. ``defaults`` are the document's ``execute`` options."""
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
                raise RuntimeError(f"report cell failed: {out.ename}: {out.evalue}")
            if opts.get("output", True) is False:
                continue
            if out.output_type == "stream" and out.name == "stderr" and opts.get("warning", True) is False:
                continue
            if out.output_type in ("display_data", "execute_result") and (
                    "image/png" in out.data or "image/svg+xml" in out.data):
                fig_no += 1
                out = _html_output(_figure_html(out.data, opts, fig_no))
            shown.append(out)
        cell.outputs = shown
        cells.append(cell)
    nb.cells = cells
    return nb


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
.callout-note,.callout-warning{border-left:4px solid #0d6efd;background:#f1f6ff;padding:.5rem 1rem;margin:1rem 0}
.callout-warning{border-color:#ffc107;background:#fff8e1}
.jp-OutputPrompt,.jp-InputPrompt{display:none}
footer{margin-top:3rem;color:#6c757d;font-size:.85rem;border-top:1px solid #dee2e6;padding-top:.6rem}
"""


def _render_fallback(work: Path, qmd_name: str, params: dict) -> Path:
    from nbconvert import HTMLExporter

    front, nb = execute_qmd(work / qmd_name, params)
    project = work / "_quarto.yml"
    defaults = (yaml.safe_load(project.read_text()) or {}).get("execute", {}) if project.exists() else {}
    nb = present(nb, {**defaults, **front.get("execute", {})})
    exporter = HTMLExporter(template_name="basic", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    title = html.escape(str(front.get("title", Path(qmd_name).stem)))
    subtitle = front.get("subtitle")
    header = f"<h1>{title}</h1>" + (f"<p><em>{html.escape(str(subtitle))}</em></p>" if subtitle else "")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="{html.escape(FALLBACK)}">'
            f"<title>{title}</title><style>{_CSS}</style></head>\n<body><header>{header}</header>\n"
            f"<main>{body}</main>\n<footer>Rendered by {html.escape(params.get('renderer', FALLBACK))}."
            f"</footer></body></html>\n")
    out = work / (Path(qmd_name).stem + ".html")
    out.write_text(page)
    return out
