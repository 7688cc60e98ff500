"""Files the ledger's pages hand out: a member's 积分对账单 (PDF, Excel) and the finance table (CSV, Excel).

The PDF uses reportlab's built-in CID font STSong-Light, which every PDF reader can show without
an embedded font file, so Chinese names and labels print on any machine (and on an intranet).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from patron.core import clock
from patron.ledger.models import Journal, JournalKind, PointType
from patron.ledger.queries import Statement

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
CSV_BOM = "\ufeff"  # without it Excel reads UTF-8 as the local code page and garbles Chinese
PDF_FONT = "STSong-Light"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """A memo like "=HYPERLINK(...)" must stay text in a spreadsheet, not run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# --------------------------------------------------------------------------- describing a journal


def local_time(journal: Journal) -> str:
    return journal.created_at.astimezone(clock.member_zone()).strftime("%Y-%m-%d %H:%M")


def kind_label(kind: str) -> str:
    return str(dict(JournalKind.choices).get(kind, kind))


def source(journal: Journal) -> tuple[str, str]:
    """(receipt, store) of the transaction a journal came from, or blanks."""
    txn = journal.transaction
    if txn is None:
        return "", ""
    return txn.external_id, txn.store.name if txn.store_id else ""


def rules(journal: Journal) -> list[dict[str, Any]]:
    """The earning rules that fired for this journal, as the earning engine recorded them."""
    fired = (journal.detail or {}).get("rules") or []
    return [r for r in fired if isinstance(r, dict)]


def rules_text(journal: Journal) -> str:
    types = dict(PointType.choices)
    parts = []
    for rule in rules(journal):
        points = rule.get("points")
        kind = types.get(rule.get("type", ""), rule.get("type", ""))
        shown = f"{rule.get('name', rule.get('id', ''))}"
        if points is not None:
            shown += f" {int(points):+d}"
        if kind:
            shown += f" ({kind})"
        parts.append(shown)
    return "; ".join(parts)


def note(journal: Journal) -> str:
    """Memo and fired rules in one cell."""
    return " · ".join(part for part in (journal.memo, rules_text(journal)) if part)


# --------------------------------------------------------------------------- the statement


def statement_headers() -> list[str]:
    return [_("Time"), _("Kind"), _("Points"), _("Balance"), _("Receipt"), _("Store"), _("Memo and rules")]


def statement_rows(statement: Statement) -> list[list[Any]]:
    rows = []
    for line in statement.lines:
        receipt, store = source(line.journal)
        rows.append(
            [
                local_time(line.journal),
                kind_label(line.journal.kind),
                line.points,
                line.balance_after,
                receipt,
                store,
                note(line.journal),
            ]
        )
    return rows


def _summary(statement: Statement) -> list[tuple[str, Any]]:
    member = statement.member
    return [
        (_("Member"), f"{member.name} ({member.member_no})"),
        (_("Period"), f"{statement.start:%Y-%m-%d} – {statement.end:%Y-%m-%d}"),
        (_("Opening balance"), statement.opening),
        (_("Closing balance"), statement.closing),
        (_("Made"), clock.now().astimezone(clock.member_zone()).strftime("%Y-%m-%d %H:%M")),
    ]


def _totals(statement: Statement) -> list[tuple[str, int]]:
    return [(kind_label(kind), points) for kind, points in sorted(statement.totals.items()) if points]


def statement_filename(statement: Statement, fmt: str) -> str:
    return f"points-statement-{statement.member.member_no}-{statement.start:%Y%m%d}-{statement.end:%Y%m%d}.{fmt}"


def statement_xlsx(statement: Statement) -> bytes:
    """One sheet: the summary, a blank row, the table of journals, a blank row, totals by kind."""
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Points statement")[:31]
    sheet.append([_("Points statement")])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in _summary(statement):
        sheet.append([label, _safe(value)])
    sheet.append([])
    sheet.append(statement_headers())
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in statement_rows(statement):
        sheet.append([_safe(v) for v in row])
    sheet.append([])
    sheet.append([_("Totals by kind")])
    for label, points in _totals(statement):
        sheet.append([label, points])
    for column, width in zip("ABCDEFG", (18, 22, 10, 10, 20, 20, 50), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def statement_pdf(statement: Statement) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=8.5, leading=11, wordWrap="CJK")
    number = ParagraphStyle("number", parent=body, alignment=TA_RIGHT)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=20, spaceAfter=4 * mm)

    def p(text: Any) -> Paragraph:
        return Paragraph(_escape(str(text)), number if isinstance(text, int) else body)

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=str(_("Points statement")),
        author="Patron",
    )
    story: list[Any] = [Paragraph(_escape(_("Points statement")), title)]
    summary = Table(
        [[p(label), Paragraph(_escape(str(value)), body)] for label, value in _summary(statement)],
        colWidths=[35 * mm, 120 * mm],
        hAlign="LEFT",
    )
    summary.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), PDF_FONT), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    story += [summary, Spacer(1, 5 * mm)]
    rows = [[Paragraph(_escape(h), number if n in (2, 3) else body) for n, h in enumerate(statement_headers())]]
    rows += [[p(v) for v in row] for row in statement_rows(statement)]
    if len(rows) == 1:
        rows.append([p(_("No points moved in this period.")), "", "", "", "", "", ""])
    table = Table(rows, colWidths=[28 * mm, 32 * mm, 18 * mm, 18 * mm, 36 * mm, 40 * mm, 101 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), PDF_FONT),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1efec")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [table, Spacer(1, 5 * mm)]
    totals = _totals(statement)
    if totals:
        story.append(Paragraph(_escape(_("Totals by kind")), body))
        rows_by_kind = [[p(label), Paragraph(f"{points:+d}", number)] for label, points in totals]
        story.append(Table(rows_by_kind, colWidths=[40 * mm, 25 * mm], hAlign="LEFT"))
    doc.build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    """reportlab paragraphs read a little markup; member text must print as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------- the finance table


MONTHLY_KEYS = ("month", "issued_net", "redeemed_net", "expired", "adjusted", "written_off")


def monthly_headers() -> list[str]:
    return [_("Month"), _("Issued (net)"), _("Redeemed (net)"), _("Expired"), _("Adjusted (net)"), _("Written off")]


def monthly_rows(months: Iterable[dict[str, Any]]) -> list[list[Any]]:
    return [[row[key] for key in MONTHLY_KEYS] for row in months]


def monthly_csv(months: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(monthly_headers())
    writer.writerows(monthly_rows(months))
    return (CSV_BOM + out.getvalue()).encode("utf-8")


def monthly_xlsx(months: Iterable[dict[str, Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(_("Points by month")[:31])
    sheet.append(monthly_headers())
    for row in monthly_rows(months):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
