"""The explorer's CSV: text a spreadsheet would run as a formula is neutralised, everything else kept."""

from __future__ import annotations

import csv
import io

import pandas as pd

from dashboard.csv_export import FORMULA_STARTS, spreadsheet_safe_csv


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_formula_cells_get_a_leading_quote_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {
            "=name": ['=HYPERLINK("http://203.0.113.9","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"],
            "plain": ["AAA", "a=b", " =1", "", None, "'already"],
            "number": [-1.5, 2, 3, 4, 5, 6],
        }
    )

    header, *rows = cells(spreadsheet_safe_csv(frame))

    assert header == ["'=name", "plain", "number"]
    assert [row[0] for row in rows] == [
        '\'=HYPERLINK("http://203.0.113.9","x")',
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
    ]
    assert [row[1] for row in rows] == ["AAA", "a=b", " =1", "", "", "'already"]
    assert [row[2] for row in rows] == ["-1.5", "2.0", "3.0", "4.0", "5.0", "6.0"]


# Each formula start alone, before text that quotes, separates or ends lines, and inside text.
TRICKY = ["", "1+1", ",", '"', "\n", "\r\n", "'", "=", "cmd|' /C calc'!A0"]
VALUES = [start + rest for start in FORMULA_STARTS for rest in TRICKY] + [
    rest + start for start in FORMULA_STARTS for rest in ("a", " ", "1")
]


def test_no_text_cell_starts_a_formula_and_each_reads_back_as_written():
    _, *rows = cells(spreadsheet_safe_csv(pd.DataFrame({"value": VALUES})))

    for (written,), value in zip(rows, VALUES, strict=True):
        assert not written.startswith(FORMULA_STARTS)
        assert written == ("'" + value if value.startswith(FORMULA_STARTS) else value)
