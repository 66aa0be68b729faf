"""The report's sortable table: what the markup carries for the script to sort and filter on.
The behaviour in a browser is tested in test_browser.py."""
import re

import numpy as np
import pandas as pd
import pytest

from experiments.htmltable import InteractiveTable


def cells(html_text: str) -> list[tuple[str, str]]:
    return re.findall(r'<td data-v="([^"]*)">([^<]*)</td>', html_text)


def test_sort_keys_and_shown_text():
    df = pd.DataFrame({"loss": ["mse<sigmoid>", "ce"], "steps": [np.inf, 12.345678], "best": [True, False],
                       "seed": pd.array([3, None], dtype="Int64"), "acc": [np.nan, 0.5]})
    out = InteractiveTable(df, "t1")._repr_html_()
    assert cells(out) == [
        ("mse&lt;sigmoid&gt;", "mse&lt;sigmoid&gt;"), ("Infinity", "inf"), ("1", "yes"), ("3", "3"), ("", ""),
        ("ce", "ce"), ("12.345678", "12.35"), ("0", "no"), ("", ""), ("0.5", "0.5"),
    ]
    assert out.count("<th scope") == len(df.columns)
    assert '2 of 2 rows' in out and 'getElementById("t1")' in out
    assert 'data-quarto-disable-processing="true"' in out
    assert "http" not in out  # nothing to fetch


def test_table_id_must_be_an_html_id():
    with pytest.raises(ValueError, match="table_id"):
        InteractiveTable(pd.DataFrame({"a": [1]}), 'x"><script>')


def test_two_tables_on_a_page_keep_apart():
    a = InteractiveTable(pd.DataFrame({"a": [1]}), "first")._repr_html_()
    b = InteractiveTable(pd.DataFrame({"a": [1]}), "second")._repr_html_()
    assert 'id="first"' in a and 'getElementById("second")' in b and "first" not in b
