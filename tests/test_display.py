"""Report tables: what a reader sees (labels, no index, yes/no, %), and the HTML both renderers pass through."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from experiments.report.display import Page, RawHTML, readable
from experiments.report.render import raw_html


def test_readable_drops_an_unnamed_index_keeps_a_named_one_and_relabels():
    df = pd.DataFrame({"loss": ["a", "b", "c"], "lr": [0.1, 0.2, 0.3]}, index=[5, 7, 9])
    out = readable(df)
    assert list(out.columns) == ["loss", "learning rate"] and out.index.tolist() == [0, 1, 2]
    named = readable(df.set_index("loss"))
    assert list(named.columns) == ["loss", "learning rate"] and named["loss"].tolist() == ["a", "b", "c"]
    pivot = readable(pd.DataFrame({("sgd", "0.1"): [1.0], ("sgd", "best"): [2.0]}, index=pd.Index(["ce"], name="loss")))
    assert list(pivot.columns) == ["loss", "sgd 0.1", "sgd best"]


def test_readable_shows_booleans_fractions_and_missing_values_for_readers():
    df = pd.DataFrame({"learn_scale": [True, False], "matches": [True, None], "reached_frac": [0.5, 1.0],
                       "nonfinite_step": pd.array([3, None], dtype="Int64"), "note": ["x", None]})
    out = readable(df, labels={"matches": "agrees"})
    assert out["scale learned"].tolist() == ["yes", "no"]
    assert out["agrees"].tolist() == ["yes", "–"]
    assert out["seeds reaching target (%)"].tolist() == [50.0, 100.0]
    assert out["NaN/inf at step"].dtype == "float64" and np.isnan(out["NaN/inf at step"][1])
    assert out["note"].tolist() == ["x", "–"]


def _table_args(html: str) -> dict:
    """The DataTables arguments itables wrote into the page."""
    block = re.search(r"let dt_args = (\{.*?\});\n", html, re.S).group(1)
    return json.loads(block)


def test_table_is_markdown_with_one_raw_html_block_and_the_bundle_once():
    page = Page()
    df = pd.DataFrame({"loss": list("abcdefghijkl"), "steps_to_target_median": [np.inf] + list(range(11))})
    first, second = page.table(df), page.table(df.head(3))
    md = first._repr_markdown_()
    assert raw_html(md) is not None and raw_html(md) == first.html
    assert not hasattr(first, "_repr_html_")       # a text/html output would make Quarto load jQuery from a CDN
    assert first.html.count("async function injectModule(") == 1 and "injectModule(" not in second.html
    args = _table_args(first.html)
    assert json.loads(args["data_json"])[0] == ["a", "___Infinity___"]   # numbers stay numbers (sorting)
    assert args["pageLength"] == 10 and "paging" not in args
    assert _table_args(second.html)["paging"] is False       # short tables: no paging, no search box
    assert 'id="tbl-1"' in first.html and 'id="tbl-2"' in second.html


def test_table_shows_numbers_with_the_asked_significant_digits():
    html = Page().table(pd.DataFrame({"x": [0.123456]}), digits=4).html
    assert "toPrecision(4)" in html and "toExponential(4 - 1)" in html


def test_raw_html_refuses_what_would_close_its_block():
    with pytest.raises(ValueError):
        RawHTML("<pre>\n```\n</pre>")
