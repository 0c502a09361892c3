"""The explorer's CSV download, made safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and a leading tab
or carriage return can hide such a start), so a value a visitor's statement returned could run
``=HYPERLINK(...)`` or worse on the machine of whoever opens the file. As OWASP's "CSV Injection" page
recommends, such text cells get a leading single quote, which spreadsheets show as plain text. Only
text is changed: a number, dates and booleans are written as pandas writes them (a negative number is
still a number to the spreadsheet, never a formula). Text cells are written in double quotes.
"""

from __future__ import annotations

import csv
from typing import Any

import pandas as pd

#: The first characters that make a spreadsheet read a cell as a formula (OWASP, CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """`value` with a leading ``'`` if it is text a spreadsheet would run as a formula; else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe_csv(frame: pd.DataFrame) -> bytes:
    """`frame` as UTF-8 CSV (header, no index), every text cell that starts a formula neutralised."""
    safe = frame.copy()
    safe.columns = [neutralised(str(name)) for name in frame.columns]
    for index in range(safe.shape[1]):
        column = safe.iloc[:, index]
        # Text columns only (object, or pandas' string type); numbers and dates keep their types.
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            safe.isetitem(index, column.map(neutralised))
    # Every text cell in double quotes (OWASP's other half): a lone carriage return, which the minimal
    # quoting leaves bare, cannot end a row early.
    return safe.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
