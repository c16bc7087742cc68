"""CSV that a spreadsheet opens as data: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return would be run as a formula by Excel, LibreOffice or Google Sheets (CSV injection), so it gets a
leading apostrophe, as OWASP recommends. Numbers are written as they are (a negative MOS stays a number).
"""

from __future__ import annotations

import csv
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cells(values: list) -> list:
    """cell() of each value (a column at a time: the exports escape 100K prompts this way)."""
    return ["'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in values]


class Writer:
    """csv.writer whose rows are escaped cell by cell."""

    def __init__(self, fh, **kwargs):
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, row) -> Any:
        return self._w.writerow([cell(v) for v in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    """csv.DictWriter whose values are escaped (the header is ours and left alone)."""

    def writerow(self, rowdict) -> Any:
        return super().writerow({k: cell(v) for k, v in rowdict.items()})
