"""Read a Quarto ``.qmd`` file into a Jupyter notebook (the fallback renderer's parser).

Handles the subset of Quarto this project's report uses: YAML front matter,
```` ```{python} ```` cells with ``#| key: value`` options, a ``parameters``
cell, and ``:::`` fenced divs (turned into HTML ``<div>`` tags). Inline
```` `{python} expr` ```` is refused with a clear message (use
``IPython.display.Markdown`` in a cell instead, which both renderers show).
"""

from __future__ import annotations

import html
import re

import nbformat
import yaml

_CELL_OPEN = re.compile(r"^```\{python\}\s*$")
_FENCE_CLOSE = re.compile(r"^```\s*$")
_DIV = re.compile(r"^:::+\s*(\{(?P<attrs>[^}]*)\})?\s*$")
_INLINE = re.compile(r"`\{python\}[^`]*`")


class QmdError(ValueError):
    pass


def split_front_matter(text: str) -> tuple[dict, str]:
    """(front-matter dict, body) of a document that may start with ``---`` YAML ``---``."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end < 0:
            raise QmdError("front matter opened with --- but never closed")
        return yaml.safe_load(text[4:end]) or {}, text[end + 5:]
    return {}, text


def _cell_options(lines: list[str]) -> tuple[dict, list[str]]:
    """Leading ``#| key: value`` lines parsed as YAML, and the remaining source lines."""
    opts = []
    i = 0
    while i < len(lines) and lines[i].startswith("#|"):
        opts.append(lines[i][2:].strip())
        i += 1
    options = yaml.safe_load("\n".join(opts)) if opts else {}
    return options or {}, lines[i:]


def _div_html(match: re.Match) -> str:
    """``::: {#id .class key=value}`` -> ``<div id=... class=...>``."""
    attrs = (match.group("attrs") or "").split()
    ids = [a[1:] for a in attrs if a.startswith("#")]
    classes = [a[1:] for a in attrs if a.startswith(".")]
    out = "<div"
    if ids:
        out += f' id="{html.escape(ids[0])}"'
    if classes:
        out += f' class="{html.escape(" ".join(classes))}"'
    return out + ">"


def _markdown_cells(text: str, depth: list[int]) -> list:
    """Markdown text -> one markdown cell, ``:::`` fences turned into ``<div>`` tags.

    ``depth[0]`` counts the divs still open; a code cell may not sit inside one.
    """
    out = []
    for line in text.split("\n"):
        m = _DIV.match(line)
        if m and m.group("attrs") is not None:      # opening fence
            depth[0] += 1
            out += ["", _div_html(m), ""]
        elif m:                                     # closing fence
            if depth[0] == 0:
                raise QmdError("a ':::' closes a div that was never opened")
            depth[0] -= 1
            out += ["", "</div>", ""]
        else:
            out.append(line)
    chunk = "\n".join(out).strip("\n")
    if not chunk.strip():
        return []
    if _INLINE.search(chunk):
        raise QmdError(f"inline code is not supported by the fallback renderer: {_INLINE.search(chunk).group(0)}")
    return [nbformat.v4.new_markdown_cell(chunk)]


def qmd_to_notebook(text: str) -> tuple[dict, nbformat.NotebookNode]:
    """Parse a ``.qmd`` document; return (front matter, notebook).

    Each code cell keeps its Quarto options in ``cell.metadata["quarto"]``;
    a cell with ``tags: [parameters]`` gets the ``parameters`` tag.
    """
    front, body = split_front_matter(text)
    cells, depth = [], [0]
    lines = body.split("\n")
    md: list[str] = []
    i = 0
    while i < len(lines):
        if _CELL_OPEN.match(lines[i]):
            cells += _markdown_cells("\n".join(md), depth)
            if depth[0]:
                raise QmdError(f"line {i + 1}: a code cell inside a ':::' div is not supported by the fallback renderer")
            md = []
            j = i + 1
            while j < len(lines) and not _FENCE_CLOSE.match(lines[j]):
                j += 1
            if j == len(lines):
                raise QmdError(f"code cell opened on line {i + 1} is never closed")
            options, source = _cell_options(lines[i + 1:j])
            cell = nbformat.v4.new_code_cell("\n".join(source).strip("\n"))
            cell.metadata["quarto"] = options
            tags = options.get("tags") or []
            if tags:
                cell.metadata["tags"] = list(tags)
            cells.append(cell)
            i = j + 1
        else:
            md.append(lines[i])
            i += 1
    cells += _markdown_cells("\n".join(md), depth)
    if depth[0]:
        raise QmdError("a ':::' div is never closed")
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return front, nb


def inject_parameters(nb: nbformat.NotebookNode, params: dict) -> None:
    """Insert a cell assigning ``params`` right after the ``parameters`` cell
    (as papermill and ``quarto render -P`` do). Unknown names are refused."""
    idx = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not idx:
        if params:
            raise QmdError("parameters were given but the document has no 'parameters' cell")
        return
    src = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(src)
    cell.metadata["quarto"] = {"echo": False}
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(idx[0] + 1, cell)
