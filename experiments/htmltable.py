"""A sortable, filterable HTML table for the report.

Plain HTML plus about thirty lines of inline JavaScript: no library, no
network, so the single-file report keeps working from disk. Click a column
heading to sort (again to reverse; numbers sort as numbers, ``inf`` after
every finite value, empty cells last); type words into the box to keep only
the rows that contain all of them. Works in Jupyter, Quarto and the fallback
renderer alike, since all three pass a ``text/html`` output through.
"""

from __future__ import annotations

import html
import math
import re

import pandas as pd

# One copy of the behaviour per table; ids keep tables on one page apart.
_SCRIPT = """<script>
(function () {
  var root = document.getElementById("%(id)s");
  var table = root.querySelector("table"), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var input = root.querySelector("input"), count = root.querySelector(".xt-count");
  var sortCol = -1, sortDir = 1;
  function key(row, c) {
    var v = row.cells[c].getAttribute("data-v");
    if (v === "") return [2, ""];
    var n = Number(v);
    return isNaN(n) ? [1, v] : [0, n];
  }
  function cmp(a, b) {
    var ka = key(a, sortCol), kb = key(b, sortCol);
    if (ka[0] !== kb[0]) return ka[0] - kb[0];
    if (ka[0] === 2) return 0;
    return (ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0) * sortDir;
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, c) {
    th.addEventListener("click", function () {
      sortDir = sortCol === c ? -sortDir : 1;
      sortCol = c;
      rows.sort(cmp);
      rows.forEach(function (r) { body.appendChild(r); });
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
    });
  });
  input.addEventListener("input", function () {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0;
    rows.forEach(function (r) {
      var text = r.textContent.toLowerCase();
      var keep = words.every(function (w) { return text.indexOf(w) >= 0; });
      r.hidden = !keep;
      if (keep) shown += 1;
    });
    count.textContent = shown + " of " + rows.length + " rows";
  });
})();
</script>"""

_STYLE = """<style>
.xt-wrap{margin:.8rem 0}.xt-wrap input{padding:.25rem .5rem;width:22rem;max-width:100%}
.xt-count{margin-left:.8rem;color:#6c757d;font-size:.85rem}
.xt-scroll{max-height:30rem;overflow:auto;border:1px solid #dee2e6;margin-top:.4rem}
.xt-scroll table{margin:0;font-size:.8rem}.xt-scroll th{position:sticky;top:0;background:#f8f9fa;cursor:pointer;user-select:none}
.xt-scroll th[aria-sort=ascending]::after{content:" \\25B2"}.xt-scroll th[aria-sort=descending]::after{content:" \\25BC"}
</style>"""


def _cell(value, float_format: str) -> tuple[str, str]:
    """(sort key, shown text) of one cell; missing values sort last and show empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "", ""
    if isinstance(value, bool):
        return str(int(value)), "yes" if value else "no"
    if isinstance(value, float):
        if math.isinf(value):
            return ("Infinity" if value > 0 else "-Infinity"), ("inf" if value > 0 else "-inf")
        return repr(value), float_format.format(value)
    if isinstance(value, int):
        return str(value), str(value)
    return str(value), str(value)


class InteractiveTable:
    """``df`` shown as a sortable, filterable table (index dropped; reset it first to keep it).

    >>> InteractiveTable(pd.DataFrame({"a": [2, 1]}), "t")._repr_html_().count("<tr>")
    3
    """

    def __init__(self, df: pd.DataFrame, table_id: str, float_format: str = "{:.4g}",
                 placeholder: str = "filter: type words, e.g. mse sigmoid"):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", table_id):
            raise ValueError(f"table_id must be an HTML id, got {table_id!r}")
        self.df, self.table_id, self.float_format, self.placeholder = df, table_id, float_format, placeholder

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f'<th scope="col">{esc(str(c))}</th>' for c in self.df.columns)
        body = []
        for row in self.df.itertuples(index=False):
            cells = (_cell(v.item() if hasattr(v, "item") else v, self.float_format) for v in row)
            body.append("<tr>" + "".join(f'<td data-v="{esc(k)}">{esc(t)}</td>' for k, t in cells) + "</tr>")
        n = len(self.df)
        return (f'{_STYLE}<div class="xt-wrap" id="{self.table_id}">'
                f'<input type="search" aria-label="filter rows" placeholder="{esc(self.placeholder)}">'
                f'<span class="xt-count">{n} of {n} rows</span><div class="xt-scroll">'
                # Quarto would otherwise parse the table into Pandoc's and drop the sorting hooks
                f'<table class="xt-table" data-quarto-disable-processing="true">'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></div>"
                + _SCRIPT % {"id": self.table_id})
