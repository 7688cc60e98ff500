"""Files the rewards' pages hand out: any report table as CSV or Excel, and a batch's unissued
codes as a streamed CSV (a batch may hold millions)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from patron.core import clock
from patron.rewards import codes
from patron.rewards.models import Coupon

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
CSV_BOM = "\ufeff"  # without it Excel reads UTF-8 as the local code page and garbles Chinese

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """A name like "=HYPERLINK(...)" must stay text in a spreadsheet, not run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


@dataclass(frozen=True)
class Table:
    """One table of a report: its file name, sheet title, headers and rows."""

    name: str
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


def table_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([_safe(v) for v in row])
    return (CSV_BOM + out.getvalue()).encode("utf-8")


def table_xlsx(table: Table) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(table.title[:31])
    sheet.append(list(table.headers))
    for row in table.rows:
        sheet.append([_safe(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_file(table: Table, fmt: str) -> tuple[str, str, bytes]:
    """(content type, file name, bytes) of a report table as Excel ("xlsx") or CSV (anything else)."""
    if fmt == "xlsx":
        return XLSX, filename(table, fmt), table_xlsx(table)
    return CSV, filename(table, "csv"), table_csv(table)


def filename(table: Table, fmt: str) -> str:
    stamp = f"{clock.now().astimezone(clock.member_zone()):%Y%m%d}"
    return f"{table.name}-{stamp}.{fmt}"


# --------------------------------------------------------------------------- a batch's codes


class _Line:
    """A file-like object whose write returns what was written, so csv.writer makes one line at a time."""

    def write(self, value: str) -> str:
        return value


def _local(at: Any) -> str:
    return at.astimezone(clock.member_zone()).strftime("%Y-%m-%d %H:%M") if at else ""


def codes_csv(headers: Sequence[str], coupons: Iterable[Coupon]) -> Iterator[bytes]:
    """The codes as CSV lines, one chunk per line, for a streaming response."""
    writer = csv.writer(_Line())
    yield (CSV_BOM + writer.writerow(headers)).encode("utf-8")
    for coupon in coupons:
        line = writer.writerow(
            [codes.display(coupon.code or ""), _local(coupon.valid_from), _local(coupon.valid_until)]
        )
        yield line.encode("utf-8")
