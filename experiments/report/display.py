"""What the report's cells show: tables and raw HTML, the same under Quarto and the fallback.

Quarto adds require.js and jQuery from a CDN to any page whose notebook holds a
``text/html`` output (quarto-cli ``src/core/jupyter/widgets.ts``: every HTML
output counts as a "JavaScript widget"), which breaks a page read offline. So
nothing here is shown as ``text/html``: a table is a Markdown output holding
one raw HTML block (```` ```{=html} ````), which pandoc passes through
untouched and the fallback renderer unwraps (:func:`experiments.report.render.raw_html`).

Tables are itables (DataTables) in offline mode, chosen over the home-made
table this project had: sorting, filtering, paging and column types from a
maintained library. The DataTables bundle (about 0.7 MB) is embedded once per
page, by the first table of a :class:`Page`. Numbers stay numbers in the data,
so they sort as numbers; they are *shown* with ``digits`` significant figures,
whole numbers with thousands separators, ``–`` for missing and ``∞`` for
infinite (a missed target counts as +inf steps, as in AlgoPerf). No pandas
index is shown: a meaningful index becomes ordinary columns first.
"""

from __future__ import annotations

import re

import pandas as pd

from . import names

# Column names as a reader sees them (units in parentheses); columns not listed keep their name.
COLUMN_LABELS = {
    "dataset": "dataset", "loss": "loss", "activation": "activation", "hidden": "hidden layers",
    "optimizer": "optimiser", "lr": "learning rate", "logit_scale": "logit scale",
    "learn_scale": "scale learned", "seed": "seed", "status": "status",
    "reached_frac": "seeds reaching target (%)", "steps_to_target_median": "steps to target (median)",
    "steps_to_target_q25": "steps to target (q25)", "steps_to_target_q75": "steps to target (q75)",
    "final_val_acc_median": "final val. accuracy (%, median)", "final_val_acc": "final val. accuracy (%)",
    "best_lr": "best rate", "nonfinite_step": "NaN/inf at step", "diverged_step": "diverged at step",
    "implementation": "implementation", "dtype": "dtype", "axis": "axis", "num_classes": "classes",
    "autocast": "autocast", "measured_threshold": "measured break", "predicted_threshold": "predicted break",
    "tolerance": "tolerance", "rule": "IEEE-754 rule", "agrees": "agrees", "target_acc": "target accuracy",
    "search_outcome": "search ended",
}
def _value_labels() -> dict[str, dict[str, str]]:
    """Values shown by their names, not the keys the tables store (the tables and their CSV keep the
    labels too: a reader filters by what is shown)."""
    return {"dataset": names.DATASET_LABELS, "loss": names.LOSS_LABELS, "subject": names.LOSS_LABELS,
            "reference": names.LOSS_LABELS, "optimizer": names.OPTIMIZER_LABELS,
            "implementation": names.IMPLEMENTATION_LABELS}


# Columns holding a fraction in [0, 1] that read better as a percentage.
PERCENT_COLUMNS = {"reached_frac", "final_val_acc_median", "final_val_acc", "reach_subject", "reach_reference",
                   "broken", "share_worse"}

# How a number is shown; sorting and filtering use the number itself (DataTables' orthogonal data).
_NUMBER_RENDER = """function (data, type, row, meta) {
  if (type !== 'display' && type !== 'filter') return data;
  if (data === null || data === undefined) return '\\u2013';
  if (typeof data !== 'number') return data;
  if (Number.isNaN(data)) return '\\u2013';
  if (!Number.isFinite(data)) return data > 0 ? '\\u221e' : '\\u2212\\u221e';
  const a = Math.abs(data);
  if (Number.isInteger(data) && a < 1e15) return data.toLocaleString('en-US');
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return data.toExponential(DIGITS - 1).replace(/\\.?0+e/, 'e');
  return String(Number(data.toPrecision(DIGITS)));
}"""


WIDE = 7      # a table of more columns than this is set smaller (report/styles.css: .xent-wide), to fit 1280 px


class RawHTML:
    """HTML shown as-is by both renderers: a Markdown output that is one raw HTML block."""

    def __init__(self, html: str):
        if "\n```" in html:
            raise ValueError("raw HTML may not contain a line starting with ``` (it would close the block)")
        self.html = html

    def _repr_markdown_(self) -> str:
        return "```{=html}\n" + self.html + "\n```"


def readable(df: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """``df`` as a reader should see it: index moved into columns, fractions as percentages,
    booleans as yes/no, nullable integers as floats (missing shown as –), columns renamed
    (``labels`` over :data:`COLUMN_LABELS`)."""
    out = df.reset_index(drop=all(n is None for n in df.index.names))   # a named index holds data
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [" ".join(str(p) for p in c if str(p)) for c in out.columns]
    out.columns = [str(c) for c in out.columns]
    for c, value_names in _value_labels().items():
        if c in out.columns and not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].map(lambda x, v=value_names: v.get(x, x) if isinstance(x, str) else x)
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_bool_dtype(s) or (s.dtype == object and s.notna().any()
                                              and s.map(_is_bool_or_missing).all()):
            out[c] = s.map(lambda x: x if _is_missing(x) else ("yes" if x else "no"))
        elif isinstance(s.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype("float64")      # nullable Int64/Float64: <NA> becomes NaN, shown as –
        if c in PERCENT_COLUMNS:
            out[c] = out[c].astype("float64") * 100
        if not pd.api.types.is_numeric_dtype(out[c]):     # text: a missing value is shown as –
            out[c] = out[c].astype(object).map(lambda x: "\u2013" if _is_missing(x) else x)
    names = {**COLUMN_LABELS, **(labels or {})}
    return out.rename(columns=lambda c: names.get(c, c))


def _is_missing(x) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and x != x)


def _is_bool_or_missing(x) -> bool:
    return isinstance(x, bool) or _is_missing(x)


class Page:
    """The tables of one report page; the first one carries the DataTables bundle."""

    def __init__(self, prefix: str = "tbl"):
        self.prefix = prefix
        self.count = 0

    def table(self, df: pd.DataFrame, labels: dict[str, str] | None = None, digits: int = 3,
              table_id: str | None = None, page_length: int = 10) -> RawHTML:
        """An interactive table of ``df`` (see :func:`readable`): sortable by clicking a heading;
        with more than ``page_length`` rows also paged and filterable by typing."""
        from itables import JavascriptFunction, to_html_datatable

        if df.empty:      # a captioned table with no rows says so in words
            return self.absent("Nothing to show in this run: the table has no rows (the losses or settings it "
                               "needs were not swept).")
        shown = readable(df, labels)
        self.count += 1
        table_id = table_id or f"{self.prefix}-{self.count}"
        numeric = [i for i, c in enumerate(shown.columns) if pd.api.types.is_numeric_dtype(shown[c])]
        long = len(shown) > page_length
        options = dict(
            table_id=table_id, connected=False, showIndex=False, maxBytes=0, format_floats_in_python=False,
            text_in_header_can_be_selected=False, style="margin:0;width:auto", autoWidth=False,   # the browser lays out
            classes="display compact" + (" xent-wide" if shown.shape[1] > WIDE else ""),
            columnDefs=[{"targets": "_all",
                         "render": JavascriptFunction(_NUMBER_RENDER.replace("DIGITS", str(int(digits))))},
                        {"targets": numeric, "className": "dt-right"},
                        {"targets": [i for i in range(shown.shape[1]) if i not in numeric], "className": "dt-left"}],
        )
        if long:
            options.update(pageLength=page_length, lengthMenu=[page_length, 25, 100, -1])
        else:
            options.update(paging=False, layout={"topStart": None, "topEnd": None,
                                                 "bottomStart": None, "bottomEnd": None})
        html = _without_fallback(to_html_datatable(shown, **options), table_id)
        if self.count == 1:
            html = _bundle() + html
        return RawHTML(f'<div class="xent-table">{html}</div>' + _csv_link(shown, table_id))


    @staticmethod
    def absent(text: str) -> RawHTML:
        """What a captioned table's cell shows when the run has nothing for it: the caption is followed by a
        sentence saying why (class ``xent-absent``, which the browser test accepts in place of rows)."""
        import html

        return RawHTML(f'<p class="xent-absent"><em>{html.escape(text.strip().strip("*"))}</em></p>')


def _without_fallback(html: str, table_id: str) -> str:
    """itables' page with its static preview taken out: that preview holds the raw values (every digit, "inf",
    "nan") for viewers that run no script, and this page always runs the table's own; the table is shown
    from the start instead of being swapped in."""
    out, n = re.subn(rf'\n<div id="{re.escape(table_id)}_fallback">.*?</div><script>document\.getElementById'
                     rf'\("{re.escape(table_id)}"\)\?\.removeAttribute\("hidden"\);.*?</script>', "", html, flags=re.S)
    if n != 1:
        raise RuntimeError(f"itables' static preview of {table_id} not found: the page would show raw values")
    return out.replace(f'<table id="{table_id}" hidden="hidden">', f'<table id="{table_id}">', 1)


def _bundle() -> str:
    """The DataTables bundle (JavaScript and CSS) as itables embeds it offline."""
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    return generate_init_offline_itables_html(options.dt_bundle)


def _csv_link(shown: pd.DataFrame, table_id: str) -> str:
    """A link that saves the table as CSV (every row, full precision), from the page itself: a data: URI,
    so it works offline and from a copy of the file."""
    import base64

    data = base64.b64encode(shown.to_csv(index=False).encode()).decode()
    return (f'<p class="xent-csv"><a download="{table_id}.csv" href="data:text/csv;charset=utf-8;base64,{data}">'
            f"Download this table (CSV, {len(shown):,} rows)</a></p>")
