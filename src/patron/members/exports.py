"""Export members to CSV or Excel, with the filters of the member list.

Phone numbers are masked unless the exporting user may reveal them; every export leaves an audit
row saying who took which members out, with what filters, and whether phones were in clear.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.permissions import Perm, has_perm
from patron.members.models import Member, MemberTag
from patron.members.phones import mask_phone, national_digits
from patron.members.queries import MemberFilter

CSV_BOM = "\ufeff"  # without it Excel reads UTF-8 as the local code page and garbles Chinese
CHUNK = 2000
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_headers() -> list[str]:
    return [
        _("Member number"),
        _("Card number"),
        _("Name"),
        _("Mobile phone"),
        _("Email"),
        _("Gender"),
        _("Birthday"),
        _("City"),
        _("Store code"),
        _("Store"),
        _("Status"),
        _("Join channel"),
        _("Joined"),
        _("Tags"),
    ]


def shown_phone(member: Member, reveal: bool) -> str:
    if not reveal:
        return mask_phone(member.phone)
    # National digits for home numbers read better in a spreadsheet than +86...; others keep E.164.
    return national_digits(member.phone) if member.phone.startswith("+86") else member.phone


def _cells(member: Member, tags: list[str], reveal: bool) -> list[Any]:
    zone = clock.member_zone()
    store = member.store
    return [
        member.member_no,
        member.card_no or "",
        member.name,
        shown_phone(member, reveal),
        member.email,
        member.get_gender_display(),
        member.birthday.isoformat() if member.birthday else "",
        member.city,
        store.code if store else "",
        store.name if store else "",
        member.get_status_display(),
        member.get_join_channel_display(),
        member.joined_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        ", ".join(tags),
    ]


def _chunks(members: QuerySet[Member]) -> Iterator[list[Member]]:
    """Members in id order, a chunk at a time, so a million rows never sit in memory at once."""
    qs = members.select_related("store").order_by("pk")
    last = 0
    while True:
        chunk = list(qs.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def _tags_of(members: list[Member]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    rows = MemberTag.objects.filter(member__in=members).order_by("tag__name").values_list("member_id", "tag__name")
    for member_id, name in rows:
        tags.setdefault(member_id, []).append(name)
    return tags


def member_rows(members: QuerySet[Member], reveal: bool) -> Iterator[list[Any]]:
    yield export_headers()
    for chunk in _chunks(members):
        tags = _tags_of(chunk)
        for member in chunk:
            yield _cells(member, tags.get(member.pk, []), reveal)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """A name like "=HYPERLINK(...)" must stay text in Excel, not run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Line:
    """A file-like sink for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def write(self, text: str) -> None:
        self.buffer.write(text)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


def csv_stream(rows: Iterable[list[Any]]) -> Iterator[bytes]:
    sink = _Line()
    writer = csv.writer(sink)
    yield CSV_BOM.encode("utf-8")
    for n, row in enumerate(rows, 1):
        writer.writerow([_safe(v) for v in row])
        if n % 500 == 0:
            yield sink.take().encode("utf-8")
    yield sink.take().encode("utf-8")


def xlsx_bytes(rows: Iterable[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(_("Members"))
    for row in rows:
        sheet.append([_safe(v) for v in row])  # all text: phone and member numbers keep their digits
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filter_summary(flt: MemberFilter) -> dict[str, str]:
    return {k: str(v) for k, v in dataclasses.asdict(flt).items() if v}


def do_export_members(flt: MemberFilter, fmt: str, user: Any) -> tuple[str, str, Iterator[bytes] | bytes]:
    """(content type, file name, content) of the member list's filtered members."""
    return export_members(
        flt.apply(Member.objects.all()), fmt, user, audit={"filters": filter_summary(flt)}, name="members"
    )


def export_members(
    members: QuerySet[Member], fmt: str, user: Any, *, audit: dict[str, Any], name: str
) -> tuple[str, str, Iterator[bytes] | bytes]:
    """(content type, file name, content): a stream for CSV, bytes for Excel. Writes the audit row
    first, with `audit` saying which members (filters, a segment)."""
    if fmt not in FORMATS:
        fmt = "csv"
    reveal = has_perm(user, Perm.MEMBERS_REVEAL)
    record_audit(
        "members.export",
        object_type="members.member",
        after={"format": fmt, **audit, "phones": "full" if reveal else "masked"},
    )
    filename = f"{name}-{clock.now().astimezone(clock.member_zone()):%Y%m%d-%H%M}.{fmt}"
    rows = member_rows(members, reveal)
    content: Iterator[bytes] | bytes = csv_stream(rows) if fmt == "csv" else xlsx_bytes(rows)
    return FORMATS[fmt], filename, content
