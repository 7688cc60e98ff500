"""Import members and transactions from CSV and Excel files.

A job goes: upload (file stored, headers read, mapping proposed) -> mapping confirmed -> dry run
(every row checked, errors listed, nothing else written) -> run (batches committed one by one).

Each batch is one database transaction: a batch with a bad row commits nothing and reports every
bad row, the other batches go in. `ImportJob.processed_rows` is saved in the same transaction as
the batch, so it is an exact resume point after a crash. Rows already in the registry (a live
member with the same phone, a transaction with the same store and external id) are skipped, so
importing the same file twice creates nothing the second time.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.context import current_actor
from patron.core.errors import DomainError, ValidationFailed
from patron.core.events import publish
from patron.core.types import is_known_currency
from patron.members import events, services
from patron.members.errors import ErrorCode
from patron.members.models import (
    LIVE_STATUSES,
    Channel,
    EntryRoute,
    Gender,
    ImportJob,
    ImportKind,
    ImportRowError,
    ImportStatus,
    JoinChannel,
    Member,
    MemberStatus,
    Store,
    TimelineEntry,
    Transaction,
    TransactionKind,
    TransactionLine,
)
from patron.members.phones import normalize_phone

Progress = Callable[[ImportJob, int], None]  # (job, rows done so far)

# --------------------------------------------------------------------------- field catalogue


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: Promise
    aliases: tuple[str, ...]  # header names people use, compared after _header_key()
    required: bool = False


_STORE = FieldSpec(
    "store_code", gettext_lazy("Store code"), ("门店", "门店代码", "门店编号", "店铺", "store", "storecode")
)
_MEMBER_NO = FieldSpec(
    "member_no", gettext_lazy("Member number"), ("会员号", "会员编号", "会员卡号码", "memberno", "membernumber")
)
_PHONE = FieldSpec(
    "phone", gettext_lazy("Mobile phone"), ("手机", "手机号", "手机号码", "电话", "phone", "mobile", "mobilephone")
)

MEMBER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("name", gettext_lazy("Name"), ("姓名", "名字", "name", "fullname"), required=True),
    FieldSpec("phone", _PHONE.label, _PHONE.aliases, required=True),
    FieldSpec("email", gettext_lazy("Email"), ("邮箱", "电子邮箱", "email", "e-mail", "mail")),
    FieldSpec("gender", gettext_lazy("Gender"), ("性别", "gender", "sex")),
    FieldSpec(
        "birthday", gettext_lazy("Birthday"), ("生日", "出生日期", "birthday", "birthdate", "dateofbirth", "dob")
    ),
    FieldSpec("city", gettext_lazy("City"), ("城市", "city")),
    _STORE,
    _MEMBER_NO,
    FieldSpec("card_no", gettext_lazy("Card number"), ("卡号", "会员卡号", "cardno", "card", "cardnumber")),
    FieldSpec("tags", gettext_lazy("Tags"), ("标签", "tags", "tag")),
    FieldSpec("channel", gettext_lazy("Join channel"), ("渠道", "入会渠道", "channel", "joinchannel")),
    FieldSpec("joined_at", gettext_lazy("Joined"), ("入会时间", "注册时间", "joined", "joinedat", "joindate")),
)

TRANSACTION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "external_id",
        gettext_lazy("Order number"),
        ("订单号", "单号", "交易号", "小票号", "externalid", "orderno", "orderid"),
        required=True,
    ),
    FieldSpec(_STORE.key, _STORE.label, _STORE.aliases, required=True),
    _MEMBER_NO,
    _PHONE,
    FieldSpec(
        "occurred_at",
        gettext_lazy("Time"),
        ("时间", "交易时间", "下单时间", "日期", "occurredat", "time", "date"),
        required=True,
    ),
    FieldSpec("amount", gettext_lazy("Amount"), ("金额", "交易金额", "实付金额", "amount", "total"), required=True),
    FieldSpec("currency", gettext_lazy("Currency"), ("币种", "货币", "currency")),
    FieldSpec("channel", gettext_lazy("Channel"), ("渠道", "channel")),
    FieldSpec("sku", gettext_lazy("SKU"), ("sku", "商品编码", "货号")),
    FieldSpec("category", gettext_lazy("Category"), ("品类", "类别", "category")),
    FieldSpec("quantity", gettext_lazy("Quantity"), ("数量", "quantity", "qty")),
    FieldSpec(
        "original_external_id",
        gettext_lazy("Original order number (refunds)"),
        ("原订单号", "原单号", "originalexternalid", "originalorderno", "refundof"),
    ),
)


def fields_for(kind: str) -> tuple[FieldSpec, ...]:
    return MEMBER_FIELDS if kind == ImportKind.MEMBERS else TRANSACTION_FIELDS


_HEADER_NOISE = re.compile(r"[\s_\-*（）()\ufeff:：]+")


def _header_key(text: str) -> str:
    return _HEADER_NOISE.sub("", str(text or "")).lower()


def propose_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """Our field -> the file's header, for every header whose name we recognise (Chinese or English)."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(_header_key(header), header)
    mapping: dict[str, str] = {}
    for spec in fields_for(kind):
        for alias in (spec.key, *spec.aliases):
            found = by_key.get(_header_key(alias))
            if found is not None and found not in mapping.values():
                mapping[spec.key] = found
                break
    return mapping


# --------------------------------------------------------------------------- reading files

CSV, XLSX = "csv", "xlsx"


def detect_format(filename: str, content: bytes) -> str:
    name = filename.lower()
    if name.endswith(".xlsx") or content[:2] == b"PK":  # xlsx is a zip file
        return XLSX
    if name.endswith((".csv", ".txt", ".tsv")):
        return CSV
    raise ValidationFailed(
        _("Upload a .csv or .xlsx file (old .xls files: save as .xlsx first)."), code=ErrorCode.IMPORT_BAD_FILE
    )


def file_format(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return XLSX if fh.read(2) == b"PK" else CSV


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as such, else GB18030 (Excel's Chinese CSVs)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk, final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _csv_dialect(first_line: str) -> str:
    return max((",", "\t", ";"), key=first_line.count)


def _csv_records(path: Path) -> Iterator[list[Any]]:
    encoding = _csv_encoding(path)
    with open(path, encoding=encoding, newline="") as fh:
        delimiter = _csv_dialect(fh.readline())
    with open(path, encoding=encoding, newline="") as fh:
        yield from csv.reader(fh, delimiter=delimiter)


def _xlsx_records(path: Path) -> Iterator[list[Any]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for damaged files
        raise ValidationFailed(_("The Excel file cannot be read."), code=ErrorCode.IMPORT_BAD_FILE) from exc
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield [_cell_value(v) for v in values]
    finally:
        book.close()


def _cell_value(value: Any) -> Any:
    """Text for every cell except dates, which Excel already parsed for us."""
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.datetime):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 13812345678.0 is a phone number, not a float
    return str(value).strip()


def read_records(path: str | Path) -> Iterator[list[Any]]:
    """Every record of the file, the header included, as lists of cell values."""
    path = Path(path)
    return _xlsx_records(path) if file_format(path) == XLSX else _csv_records(path)


def read_headers(path: str | Path) -> list[str]:
    for record in read_records(path):
        return [str(h).strip() for h in record]
    return []


def count_data_rows(path: str | Path) -> int:
    return sum(1 for _record in read_records(path)) - 1


def line_of(index: int) -> int:
    """The line a person sees in the file: the header is line 1, the first data row line 2."""
    return index + 2


@dataclass
class Batch:
    start: int  # data-row index of the first row
    end: int  # data-row index after the last row: the resume point once this batch is done
    rows: list[tuple[int, dict[str, Any]]]  # (line, our field -> cell value)


def iter_batches(path: str | Path, mapping: dict[str, str], start: int, size: int) -> Iterator[Batch]:
    records = read_records(path)
    headers = [str(h).strip() for h in next(records, [])]
    columns = {key: headers.index(header) for key, header in mapping.items() if header in headers}
    rows: list[tuple[int, dict[str, Any]]] = []
    batch_start = start
    index = -1
    for index, record in enumerate(records):
        if index < start:
            continue
        if any(v not in ("", None) for v in record):  # blank lines advance the cursor and nothing else
            rows.append((line_of(index), {key: record[i] if i < len(record) else "" for key, i in columns.items()}))
        if index + 1 - batch_start >= size:
            yield Batch(batch_start, index + 1, rows)
            rows, batch_start = [], index + 1
    if index + 1 > batch_start:
        yield Batch(batch_start, index + 1, rows)


# --------------------------------------------------------------------------- parsing cells


class RowProblem(Exception):
    """One bad cell (or row): which of our fields, and why, in words for people."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = str(reason)


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key, "")
    return value.strip() if isinstance(value, str) else str(value)


def _texts(row: dict[str, Any]) -> dict[str, str]:
    """_text() of every cell of the row."""
    return {key: value.strip() if isinstance(value, str) else str(value) for key, value in row.items()}


def parse_phone(text: str, key: str = "phone") -> str:
    try:
        return normalize_phone(text)
    except ValidationFailed as exc:
        raise RowProblem(key, exc.message) from exc


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M")


def parse_time(value: Any, key: str = "occurred_at") -> dt.datetime:
    """An aware time. Times without a zone are the members' local time (Asia/Shanghai)."""
    at = value if isinstance(value, dt.datetime) else _parse_time_text(value, key)
    if at.tzinfo is None:
        at = at.replace(tzinfo=clock.member_zone())
    try:
        return services.check_time(at)  # the same rule as a sale through the API: aware, not in the future
    except ValidationFailed as exc:
        raise RowProblem(key, exc.message) from exc


def _parse_time_text(value: Any, key: str) -> dt.datetime:
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min)
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _TIME_FORMATS + _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise RowProblem(key, _("%(value)s is not a date and time (use 2026-03-01 14:30).") % {"value": text or "∅"})


def parse_date(value: Any, key: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in _DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if day > clock.local_today():
            raise RowProblem(key, _("%(value)s is in the future.") % {"value": text})
        return day
    raise RowProblem(key, _("%(value)s is not a date (use 1990-05-17).") % {"value": text})


_MONEY_NOISE = re.compile(r"[,，¥￥\s]")


def parse_amount(text: str, currency: str, key: str = "amount") -> Decimal:
    try:
        return services.check_money(_MONEY_NOISE.sub("", text), currency)  # positive, at most 2 decimals
    except ValidationFailed as exc:
        raise RowProblem(key, f"{text or '∅'}: {exc.message}") from exc


def parse_currency(text: str) -> str:
    code = (text or settings.PATRON["DEFAULT_CURRENCY"]).strip().upper()
    if not is_known_currency(code):
        raise RowProblem("currency", _("Unknown currency %(c)s.") % {"c": code})
    return code


_ONE_UNIT = Decimal(1)


def parse_quantity(text: str) -> Decimal:
    if not text:
        return _ONE_UNIT
    try:
        value = Decimal(text or "1")
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite() or value <= 0 or value.as_tuple().exponent < -3 or value >= Decimal("1e9"):  # type: ignore[operator]
        raise RowProblem("quantity", _("%(value)s is not a quantity.") % {"value": text})
    return value


_GENDERS = {
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "女": Gender.FEMALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "男": Gender.MALE,
    "u": Gender.UNKNOWN,
    "unknown": Gender.UNKNOWN,
    "未知": Gender.UNKNOWN,
    "": Gender.UNKNOWN,
}
_JOIN_CHANNELS = {c.value: c.value for c in JoinChannel} | {
    "门店": "store",
    "线上": "online",
    "网店": "online",
    "小程序": "app",
    "app": "app",
    "微信": "wechat",
    "电话": "phone",
    "呼叫中心": "phone",
    "活动": "event",
    "推荐": "referral",
    "导入": "import",
}
_CHANNELS = {c.value: c.value for c in Channel} | {"门店": "store", "线上": "online", "网店": "online", "电话": "phone"}


def parse_choice(text: str, choices: Mapping[str, str], key: str, default: str) -> str:
    if not text:
        return default
    value = choices.get(text.strip().lower())
    if value is None:
        raise RowProblem(
            key,
            _("%(value)s is not one of: %(choices)s.")
            % {"value": text, "choices": ", ".join(sorted({v for v in choices.values() if v}))},
        )
    return value


def parse_store(text: str, stores: dict[str, Store]) -> Store:
    store = stores.get(text.strip().upper())
    if store is None:
        raise RowProblem("store_code", _("There is no store with code %(code)s.") % {"code": text or "∅"})
    return store


_TAG_SPLIT = re.compile(r"[,;，；、|]")


def parse_tags(text: str) -> list[str]:
    tags = [t.strip() for t in _TAG_SPLIT.split(text or "") if t.strip()]
    for tag in tags:
        if len(tag) > 50:
            raise RowProblem("tags", _("A tag is 1 to 50 characters."))
    return tags


# --------------------------------------------------------------------------- results of a batch


@dataclass
class RowError:
    line: int
    key: str  # our field; shown as the file's column header
    reason: str


@dataclass
class BatchResult:
    created: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)


class BatchRejected(Exception):
    """Raised inside a batch's transaction to roll all of it back."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad rows")
        self.errors = errors


# --------------------------------------------------------------------------- members


@dataclass
class MemberRow:
    line: int
    data: services.NewMember
    member_no: str
    tags: list[str]


class MemberImporter:
    """Checks and writes member rows. New members go through services.do_create_member, one savepoint
    each, so numbering, consent, timeline, audit and events are exactly those of a console sign-up."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.stores = {s.code: s for s in Store.objects.all()}
        # Across the whole file: a phone or card twice in one file is an error on the later line.
        self.phone_lines: dict[str, int] = {}
        self.card_lines: dict[str, int] = {}

    def check(self, rows: list[tuple[int, dict[str, Any]]]) -> tuple[list[MemberRow], BatchResult]:
        result = BatchResult()
        parsed = []
        for line, row in rows:
            try:
                parsed.append(self._parse(line, row))
            except RowProblem as problem:
                result.errors.append(RowError(line, problem.key, problem.reason))
        taken_phones, known_nos, taken_cards = self._existing(parsed)
        to_create = []
        for item in parsed:
            try:
                if self._decide(item, taken_phones, known_nos, taken_cards):
                    to_create.append(item)
                else:
                    result.skipped += 1
            except RowProblem as problem:
                result.errors.append(RowError(item.line, problem.key, problem.reason))
        return to_create, result

    def write(self, to_create: list[MemberRow], result: BatchResult) -> BatchResult:
        for item in to_create:
            try:
                with transaction.atomic():  # a refused row must not break the batch's transaction
                    member = services.do_create_member(data=item.data)
                    for tag in item.tags:
                        services.do_tag_member(member=member, tag_name=tag, source="import")
                result.created += 1
            except DomainError as exc:
                result.errors.append(RowError(item.line, next(iter(exc.fields), ""), exc.message))
        return result

    def end_batch(self) -> None:
        """Nothing to forget: the phone and card maps cover the whole file."""

    def _parse(self, line: int, row: dict[str, Any]) -> MemberRow:
        name = _text(row, "name")
        if not name:
            raise RowProblem("name", _("A name is required."))
        email = _text(row, "email")
        if email:
            try:
                validate_email(email)
            except DjangoValidationError as exc:
                raise RowProblem("email", _("%(value)s is not an email address.") % {"value": email}) from exc
        store_text = _text(row, "store_code")
        joined = row.get("joined_at", "")
        data = services.NewMember(
            name=name,
            phone=parse_phone(_text(row, "phone")),
            email=email,
            gender=parse_choice(_text(row, "gender"), _GENDERS, "gender", Gender.UNKNOWN),
            birthday=parse_date(row["birthday"], "birthday") if _text(row, "birthday") else None,
            city=_text(row, "city")[:50],
            store=parse_store(store_text, self.stores) if store_text else None,
            join_channel=parse_choice(_text(row, "channel"), _JOIN_CHANNELS, "channel", JoinChannel.IMPORT),
            joined_at=parse_time(joined, "joined_at") if _text(row, "joined_at") else None,
            card_no=_text(row, "card_no") or None,
            consent_source="import",
            # People in an import file are members already, whatever the entry threshold for new sign-ups.
            entry_route=EntryRoute.OPEN,
        )
        return MemberRow(line=line, data=data, member_no=_text(row, "member_no"), tags=parse_tags(_text(row, "tags")))

    def _existing(self, parsed: list[MemberRow]) -> tuple[set[str], set[str], set[str]]:
        phones = [p.data.phone for p in parsed]
        nos = [p.member_no for p in parsed if p.member_no]
        cards = [p.data.card_no for p in parsed if p.data.card_no]
        taken_cards: set[str] = set()
        if cards:
            taken_cards = {c for c in Member.objects.filter(card_no__in=cards).values_list("card_no", flat=True) if c}
        taken_phones = set(
            Member.objects.filter(phone__in=phones, status__in=LIVE_STATUSES).values_list("phone", flat=True)
        )
        known_nos = set(Member.objects.filter(member_no__in=nos).values_list("member_no", flat=True)) if nos else set()
        return taken_phones, known_nos, taken_cards

    def _decide(self, item: MemberRow, taken_phones: set[str], known_nos: set[str], taken_cards: set[str]) -> bool:
        """True: create. False: already a member, skip. RowProblem: refuse."""
        phone, card = item.data.phone, item.data.card_no
        first = self.phone_lines.setdefault(phone, item.line)
        if first != item.line:
            raise RowProblem("phone", _("The same phone number is already on line %(line)s.") % {"line": first})
        if card:
            first_card = self.card_lines.setdefault(card, item.line)
            if first_card != item.line:
                raise RowProblem(
                    "card_no", _("The same card number is already on line %(line)s.") % {"line": first_card}
                )
        if phone in taken_phones or (item.member_no and item.member_no in known_nos):
            return False  # the person is already a member: importing the file again changes nothing
        if card and card in taken_cards:
            raise RowProblem("card_no", _("Card %(card)s already belongs to a member.") % {"card": card})
        return True


# --------------------------------------------------------------------------- transactions
#
# Why plain SQL here: with a model instance per row and bulk_create preparing every value, Django's own
# work was most of an import's time. The transaction importer instead sends a few statements per batch
# with values that are ready as they are: one query per lookup, the new rows loaded with COPY on
# PostgreSQL or one prepared INSERT run over all rows on SQLite, their ids read back by (store,
# external id). All of it runs in the batch's database transaction, like the ORM writes it replaces.

_TXN_TABLE = Transaction._meta.db_table
_TXN_COLUMNS = (
    "member_id",
    "store_id",
    "kind",
    "original_id",
    "external_id",
    "occurred_at",
    "amount",
    "currency",
    "channel",
    "source",
    "created_at",
)
_LINE_TABLE = TransactionLine._meta.db_table
_LINE_COLUMNS = ("transaction_id", "sku", "category", "quantity", "amount")
_TIMELINE_TABLE = TimelineEntry._meta.db_table
_TIMELINE_COLUMNS = ("member_id", "at", "kind", "data", "actor_label")
_MEMBER_TABLE = Member._meta.db_table

_KEYS_PER_QUERY = 5000  # bound parameters per lookup, well under SQLite's limit of 32,766
_CENT = Decimal("0.01")

T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    size = _KEYS_PER_QUERY
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _in_list(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`IN (%s, ...)`, or on PostgreSQL `= ANY(%s)` with one array parameter: far quicker to send and plan."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [list(values)]
    return f"IN ({_placeholders(len(values))})", list(values)


def _select_in(sql: str, values: Sequence[Any], *, before: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql`, whose `{in_values}` stands for the list `values` (sent in chunks), after the `before` params."""
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(values):
            in_values, params = _in_list(chunk)
            cursor.execute(sql.format(in_values=in_values), [*before, *params])
            rows += cursor.fetchall()
    return rows


def _transactions_by_key(
    columns: str, keys: Sequence[tuple[int, str]], *, for_update: bool = False
) -> list[tuple[Any, ...]]:
    """Rows of the transaction table for these (store id, external id) keys, found on its unique index."""
    rows: list[tuple[Any, ...]] = []
    lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        for chunk in _chunks(keys):
            where, params = _key_filter(chunk)
            cursor.execute(f"SELECT {columns} FROM {_TXN_TABLE} WHERE {where}{lock}", params)
            rows += cursor.fetchall()
    return rows


def _key_filter(keys: Sequence[tuple[int, str]]) -> tuple[str, list[Any]]:
    """A WHERE clause matching these (store id, external id) pairs."""
    if connection.vendor == "postgresql":  # two array parameters, joined to the table's unique index
        store_ids, external_ids = [k[0] for k in keys], [k[1] for k in keys]
        return "(store_id, external_id) IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))", [store_ids, external_ids]
    # (store_id = 1 AND external_id IN (...)) OR (store_id = 2 AND ...): one index range per store.
    by_store: dict[int, list[str]] = defaultdict(list)
    for store_id, external_id in keys:
        by_store[store_id].append(external_id)
    clauses, params = [], []
    for store_id, ids in by_store.items():
        clauses.append(f"(store_id = %s AND external_id IN ({_placeholders(len(ids))}))")
        params += [store_id, *ids]
    return " OR ".join(clauses), params


def _bulk_insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows (tuples in the order of `columns`) the fastest way the database offers."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _copy_rows(table, columns, rows)
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(len(columns))})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _copy_rows(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    # wrap_database_errors: a unique violation arrives as Django's IntegrityError, as from the ORM.
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _money(value: Any) -> Decimal:
    """An amount read with plain SQL: SQLite gives a float (or int), PostgreSQL a Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_CENT)


@dataclass(slots=True)
class TxnRow:
    line: int
    store: Store
    external_id: str
    occurred_at: dt.datetime
    amount: Decimal
    amount_text: str
    currency: str
    currency_given: bool
    channel: str
    member_no: str
    phone: str
    original_external_id: str
    sku: str
    category: str
    quantity: Decimal


@dataclass(slots=True)
class MemberRef:
    pk: int
    status: str
    entry_route: str

    @property
    def enters_on_first_purchase(self) -> bool:
        return self.status == MemberStatus.PENDING and self.entry_route == EntryRoute.FIRST_PURCHASE


@dataclass(slots=True)
class NewTxn:
    """A transaction row to insert; `pk` is set once its batch is in the table."""

    member_id: int
    store_id: int
    kind: str
    external_id: str
    occurred_at: dt.datetime
    amount: Decimal
    currency: str
    channel: str
    original_id: int | None = None
    pk: int | None = None

    @property
    def key(self) -> tuple[int, str]:
        return self.store_id, self.external_id

    def as_model(self) -> Transaction:
        return Transaction(
            pk=self.pk,
            member_id=self.member_id,
            store_id=self.store_id,
            kind=self.kind,
            original_id=self.original_id,
            external_id=self.external_id,
            occurred_at=self.occurred_at,
            amount=self.amount,
            currency=self.currency,
            channel=self.channel,
            source="import",
        )


@dataclass(slots=True)
class KnownTxn:
    """A transaction already in the database, or one planned earlier in this file."""

    line: int  # 0 for the database
    member_id: int
    amount: Decimal
    currency: str
    kind: str
    new: NewTxn | None = None  # planned: gets its pk when the batch is inserted
    pk: int | None = None  # from the database

    @property
    def id(self) -> int | None:
        return self.pk if self.pk is not None else (self.new.pk if self.new is not None else None)


@dataclass(slots=True)
class PlannedTxn:
    row: TxnRow
    txn: NewTxn
    original: KnownTxn | None
    may_enter: bool = False  # a sale of a pending member who enters on a first purchase


class TransactionImporter:
    """Checks rows in Python against what one query per lookup and batch says is already there, then
    inserts the batch with plain SQL (see above). Keeps the invariants of services.do_record_sale and
    do_record_refund: one external id per store, refunds never above what is left of the sale (the sales
    locked), a timeline row per transaction, TransactionRecorded published after commit, entry on a
    qualifying first purchase."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.stores = {s.code: s for s in Store.objects.all()}
        # Planned earlier in the file, keyed (store id, external id); a dry run keeps the whole file,
        # a run only the current batch (earlier batches are in the database by then).
        self.planned: dict[tuple[int, str], KnownTxn] = {}
        self.refunded: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
        self.currencies: dict[str, str] = {}  # cell text -> code, checked once per file

    def check(self, rows: list[tuple[int, dict[str, Any]]]) -> tuple[list[PlannedTxn], BatchResult]:
        result = BatchResult()
        parsed: list[TxnRow] = []
        for line, row in rows:
            try:
                parsed.append(self._parse(line, row))
            except RowProblem as problem:
                result.errors.append(RowError(line, problem.key, problem.reason))
        by_no, by_phone = self._members(parsed)
        known = self._known(parsed)
        refunded_before = self._refunded_in_db(known)
        plan = []
        for txn_row in parsed:
            try:
                planned = self._decide(txn_row, by_no, by_phone, known, refunded_before)
            except RowProblem as problem:
                result.errors.append(RowError(txn_row.line, problem.key, problem.reason))
                continue
            if planned is None:
                result.skipped += 1
            else:
                plan.append(planned)
        return plan, result

    def write(self, plan: list[PlannedTxn], result: BatchResult) -> BatchResult:
        now = clock.now()
        _insert_transactions([p.txn for p in plan if p.original is None], now)
        refunds = [p for p in plan if p.original is not None]
        for p in refunds:
            p.txn.original_id = p.original.id  # type: ignore[union-attr]  # sales of this batch have pks now
        _insert_transactions([p.txn for p in refunds], now)
        _insert_lines(plan)
        _insert_timeline(plan, now)
        self._publish(plan)
        self._activate_first_purchases(plan)
        result.created += len(plan)
        return result

    def end_batch(self) -> None:
        if not self.dry_run:
            self.planned.clear()
            self.refunded.clear()

    # ----- parsing and lookups

    def _parse(self, line: int, row: dict[str, Any]) -> TxnRow:
        text = _texts(row)  # every cell once; the checks below run in the order of the report's columns
        external_id = text.get("external_id", "")
        if not external_id or len(external_id) > 64:
            raise RowProblem("external_id", _("An order number of 1 to 64 characters is required."))
        currency_text = text.get("currency", "")
        currency = self._currency(currency_text)
        amount_text = text.get("amount", "")
        amount = parse_amount(amount_text, currency)  # a refund's is checked again in its sale's currency
        store = parse_store(text.get("store_code", ""), self.stores)
        occurred_at = parse_time(row.get("occurred_at", ""))
        channel = parse_choice(text.get("channel", ""), _CHANNELS, "channel", "store")
        phone = text.get("phone", "")
        return TxnRow(
            line,
            store,
            external_id,
            occurred_at,
            amount,
            amount_text,
            currency,
            bool(currency_text),
            channel,
            member_no=text.get("member_no", ""),
            phone=parse_phone(phone) if phone else "",
            original_external_id=text.get("original_external_id", ""),
            sku=text.get("sku", "")[:64],
            category=text.get("category", "")[:64],
            quantity=parse_quantity(text.get("quantity", "")),
        )

    def _currency(self, text: str) -> str:
        code = self.currencies.get(text)
        if code is None:
            code = self.currencies[text] = parse_currency(text)
        return code

    def _members(self, parsed: list[TxnRow]) -> tuple[dict[str, MemberRef], dict[str, MemberRef]]:
        nos = list({r.member_no for r in parsed if r.member_no})
        phones = list({r.phone for r in parsed if r.phone and not r.member_no})
        by_no = {
            no: MemberRef(pk, status, route)
            for pk, no, status, route in _select_in(
                f"SELECT id, member_no, status, entry_route FROM {_MEMBER_TABLE} WHERE member_no {{in_values}}", nos
            )
        }
        live = [str(s) for s in LIVE_STATUSES]
        by_phone = {
            phone: MemberRef(pk, status, route)
            for pk, phone, status, route in _select_in(
                f"SELECT id, phone, status, entry_route FROM {_MEMBER_TABLE}"
                f" WHERE status IN ({_placeholders(len(live))}) AND phone {{in_values}}",
                phones,
                before=live,
            )
        }
        return by_no, by_phone

    def _known(self, parsed: list[TxnRow]) -> dict[tuple[int, str], KnownTxn]:
        """Transactions in the database with the external ids (and refunded sales) of this batch."""
        keys = {(r.store.pk, r.external_id) for r in parsed}
        keys |= {(r.store.pk, r.original_external_id) for r in parsed if r.original_external_id}
        # As do_record_refund: lock the sales, so two refunds of one sale cannot both pass.
        lock = not self.dry_run and any(r.original_external_id for r in parsed)
        rows = _transactions_by_key(
            "id, store_id, external_id, member_id, amount, currency, kind", list(keys), for_update=lock
        )
        return {(s, e): KnownTxn(0, m, _money(a), c, k, pk=pk) for pk, s, e, m, a, c, k in rows}

    def _refunded_in_db(self, known: dict[tuple[int, str], KnownTxn]) -> dict[int, Decimal]:
        sale_ids = [k.pk for k in known.values() if k.kind == TransactionKind.SALE]
        if not sale_ids:
            return {}
        rows = (
            Transaction.objects.filter(original_id__in=sale_ids, kind=TransactionKind.REFUND)
            .values("original_id")
            .annotate(total=Sum("amount"))
            .values_list("original_id", "total")
        )
        return dict(rows)

    # ----- decisions, row by row

    def _decide(
        self,
        row: TxnRow,
        by_no: dict[str, MemberRef],
        by_phone: dict[str, MemberRef],
        known: dict[tuple[int, str], KnownTxn],
        refunded_before: dict[int, Decimal],
    ) -> PlannedTxn | None:
        """A planned insert; None when the same transaction is already there; RowProblem otherwise."""
        original_key = (row.store.pk, row.original_external_id)
        original = self._find_original(row, original_key, known) if row.original_external_id else None
        currency = original.currency if original else row.currency
        if original and row.currency_given and row.currency != original.currency:
            raise RowProblem(
                "currency", _("A refund is in the currency of its sale (%(c)s).") % {"c": original.currency}
            )
        amount = row.amount if currency == row.currency else parse_amount(row.amount_text, currency)
        member = self._member_for(row, by_no, by_phone, original)
        member_id = member if isinstance(member, int) else member.pk
        key = (row.store.pk, row.external_id)
        kind = TransactionKind.REFUND if original else TransactionKind.SALE
        earlier = self.planned.get(key) or known.get(key)
        if earlier is not None:
            self._check_replay(row, earlier, member_id, amount, currency)
            return None
        if original is not None:
            self._check_refund_fits(row, original, original_key, amount, refunded_before)
        txn = NewTxn(member_id, row.store.pk, kind, row.external_id, row.occurred_at, amount, currency, row.channel)
        self.planned[key] = KnownTxn(row.line, member_id, amount, currency, kind, new=txn)
        may_enter = original is None and isinstance(member, MemberRef) and member.enters_on_first_purchase
        return PlannedTxn(row, txn, original, may_enter)

    def _find_original(self, row: TxnRow, key: tuple[int, str], known: dict[tuple[int, str], KnownTxn]) -> KnownTxn:
        original = self.planned.get(key) or known.get(key)
        if original is None or original.kind != TransactionKind.SALE:
            raise RowProblem(
                "original_external_id",
                _("There is no sale %(id)s in store %(store)s to refund.")
                % {"id": row.original_external_id, "store": row.store.code},
            )
        return original

    def _member_for(
        self, row: TxnRow, by_no: dict[str, MemberRef], by_phone: dict[str, MemberRef], original: KnownTxn | None
    ) -> MemberRef | int:
        """The member the row names, or the refunded sale's member id when it names none."""
        key = "member_no" if row.member_no else "phone"
        if not row.member_no and not row.phone:
            if original is not None:
                return original.member_id  # a refund belongs to the sale's member
            raise RowProblem("member_no", _("A member number or a phone number is required."))
        ref = by_no.get(row.member_no) if row.member_no else by_phone.get(row.phone)
        if ref is None:
            raise RowProblem(key, _("No member with %(value)s.") % {"value": row.member_no or row.phone})
        if ref.status == MemberStatus.FROZEN:
            raise RowProblem(key, _("This membership is frozen."))
        if ref.status not in LIVE_STATUSES:
            raise RowProblem(key, _("This membership is %(s)s.") % {"s": MemberStatus(ref.status).label})
        if original is not None and original.member_id != ref.pk:
            raise RowProblem(key, _("The refunded sale belongs to another member."))
        return ref

    def _check_replay(self, row: TxnRow, earlier: KnownTxn, member_id: int, amount: Decimal, currency: str) -> None:
        if earlier.member_id == member_id and earlier.amount == amount and earlier.currency == currency:
            return  # the same transaction again: already recorded (or planned on an earlier line)
        where = _("on line %(line)s") % {"line": earlier.line} if earlier.line else _("in the registry")
        raise RowProblem(
            "external_id",
            _("Order %(id)s of this store is already %(where)s with other details.")
            % {"id": row.external_id, "where": where},
        )

    def _check_refund_fits(
        self,
        row: TxnRow,
        original: KnownTxn,
        original_key: tuple[int, str],
        amount: Decimal,
        refunded_before: dict[int, Decimal],
    ) -> None:
        done = refunded_before.get(original.pk, Decimal(0)) if original.pk else Decimal(0)
        remaining = original.amount - done - self.refunded[original_key]
        if amount > remaining:
            raise RowProblem(
                "amount",
                _("The refund of %(a)s is more than the %(r)s left of the sale.") % {"a": amount, "r": remaining},
            )
        self.refunded[original_key] += amount

    # ----- after the insert

    def _publish(self, plan: list[PlannedTxn]) -> None:
        for p in plan:
            t = p.txn
            publish(
                events.TransactionRecorded(
                    t.pk,  # type: ignore[arg-type]  # set by the insert
                    t.member_id,
                    t.store_id,
                    t.kind,
                    t.amount,
                    t.currency,
                    t.occurred_at,
                    t.original_id,
                )
            )

    def _activate_first_purchases(self, plan: list[PlannedTxn]) -> None:
        """As do_record_sale: a pending member with the first-purchase route enters on a qualifying sale."""
        for p in plan:
            if p.may_enter:  # the member's status is read again, locked, before anything changes
                services.maybe_activate_on_purchase(services.lock_member(p.txn.member_id), p.txn.as_model())


def _insert_transactions(txns: list[NewTxn], now: dt.datetime) -> None:
    """Insert the rows and give each its pk."""
    if not txns:
        return
    to_db = connection.ops.adapt_datetimefield_value
    created_at = to_db(now)
    values = [
        (
            t.member_id,
            t.store_id,
            t.kind,
            t.original_id,
            t.external_id,
            to_db(t.occurred_at),
            t.amount,
            t.currency,
            t.channel,
            "import",
            created_at,
        )
        for t in txns
    ]
    if connection.vendor == "postgresql":
        # COPY returns nothing: take the ids from the table's sequence first and write them with the rows.
        ids = _next_ids(_TXN_TABLE, len(txns))
        _bulk_insert(_TXN_TABLE, ("id", *_TXN_COLUMNS), [(pk, *row) for pk, row in zip(ids, values, strict=True)])
        for t, pk in zip(txns, ids, strict=True):
            t.pk = pk
        return
    _bulk_insert(_TXN_TABLE, _TXN_COLUMNS, values)
    found = {(s, e): pk for pk, s, e in _transactions_by_key("id, store_id, external_id", [t.key for t in txns])}
    for t in txns:
        t.pk = found[t.key]


def _next_ids(table: str, count: int) -> list[int]:
    """`count` new ids from the PostgreSQL sequence of table.id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [pk for (pk,) in cursor.fetchall()]


def _insert_lines(plan: list[PlannedTxn]) -> None:
    rows = [(p.txn.pk, p.row.sku, p.row.category, p.row.quantity, p.txn.amount) for p in plan if p.row.sku]
    _bulk_insert(_LINE_TABLE, _LINE_COLUMNS, rows)


def _insert_timeline(plan: list[PlannedTxn], now: dt.datetime) -> None:
    """What services.add_timeline writes for a sale or refund, one row per transaction."""
    at, actor = connection.ops.adapt_datetimefield_value(now), current_actor().label[:150]
    rows = []
    for p in plan:
        t = p.txn
        if t.pk is None:
            raise RuntimeError("transaction ids are assigned before timeline rows are written")
        data = services.transaction_timeline_data(
            transaction_id=t.pk,
            amount=t.amount,
            currency=t.currency,
            store_code=p.row.store.code,
            external_id=t.external_id,
        )
        rows.append((t.member_id, at, t.kind, json.dumps(data), actor))
    _bulk_insert(_TIMELINE_TABLE, _TIMELINE_COLUMNS, rows)


def _importer(kind: str, dry_run: bool) -> MemberImporter | TransactionImporter:
    return MemberImporter(dry_run) if kind == ImportKind.MEMBERS else TransactionImporter(dry_run)


# --------------------------------------------------------------------------- jobs


def import_dir() -> Path:
    return Path(settings.VAR_DIR) / "imports"


@transaction.atomic
def do_create_import_job(kind: str, filename: str, content: bytes, created_by: Any = None) -> ImportJob:
    """Store the uploaded file, read its header, propose a mapping from the header names."""
    if kind not in ImportKind.values:
        raise ValidationFailed(_("Unknown import kind %(k)s.") % {"k": kind}, fields={"kind": _("unknown")})
    fmt = detect_format(filename, content)
    sha = hashlib.sha256(content).hexdigest()
    path = _store_file(content, sha, fmt)
    headers = read_headers(path)
    if not any(headers):
        raise ValidationFailed(_("The file has no header row."), code=ErrorCode.IMPORT_BAD_FILE)
    job = ImportJob.objects.create(
        kind=kind,
        filename=Path(filename).name[:200],
        path=str(path),
        file_sha256=sha,
        mapping=propose_mapping(kind, headers),
        total_rows=max(count_data_rows(path), 0),
        created_by=created_by if getattr(created_by, "pk", None) else None,
        created_at=clock.now(),
        message=_already_imported_note(sha, kind),
    )
    record_audit(
        "import.upload", obj=job, after={"kind": kind, "filename": job.filename, "sha256": sha, "rows": job.total_rows}
    )
    return job


def _store_file(content: bytes, sha: str, fmt: str) -> Path:
    # Named by content: the same file uploaded twice is stored once, and the name cannot be abused.
    folder = import_dir() / sha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha}.{fmt}"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(content)
        tmp.replace(path)
    return path


def _already_imported_note(sha: str, kind: str) -> str:
    earlier = ImportJob.objects.filter(file_sha256=sha, kind=kind, status=ImportStatus.DONE).order_by("-pk").first()
    if earlier is None:
        return ""
    return _("This file was already imported in job %(id)s; rows already in the registry will be skipped.") % {
        "id": earlier.pk
    }


def job_headers(job: ImportJob) -> list[str]:
    return read_headers(job.path)


@transaction.atomic
def do_set_mapping(job: ImportJob, mapping: dict[str, str]) -> ImportJob:
    """Confirm which column holds which field. Empty values mean "not in this file"."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status == ImportStatus.RUNNING or job.processed_rows:
        raise ValidationFailed(
            _("The import has started; its mapping can no longer change."), code=ErrorCode.IMPORT_NOT_READY
        )
    headers = job_headers(job)
    known = {spec.key for spec in fields_for(job.kind)}
    cleaned = {key: header for key, header in mapping.items() if header}
    for key, header in cleaned.items():
        if key not in known:
            raise ValidationFailed(_("Unknown field %(f)s.") % {"f": key}, code=ErrorCode.IMPORT_BAD_MAPPING)
        if header not in headers:
            raise ValidationFailed(
                _("The file has no column %(h)s.") % {"h": header}, code=ErrorCode.IMPORT_BAD_MAPPING
            )
    job.mapping = cleaned
    job.status = ImportStatus.UPLOADED  # a new mapping needs a new check
    job.save(update_fields=["mapping", "status"])
    record_audit("import.mapping", obj=job, after=cleaned)
    return job


def missing_fields(job: ImportJob) -> list[str]:
    return [str(spec.label) for spec in fields_for(job.kind) if spec.required and not job.mapping.get(spec.key)]


def _check_mapping(job: ImportJob) -> None:
    missing = missing_fields(job)
    if missing:
        raise ValidationFailed(
            _("Choose the column for: %(f)s.") % {"f": ", ".join(missing)}, code=ErrorCode.IMPORT_BAD_MAPPING
        )


def _batch_size() -> int:
    return int(settings.PATRON["IMPORT_BATCH_SIZE"])


def _save_errors(job: ImportJob, errors: list[RowError]) -> None:
    ImportRowError.objects.bulk_create(
        ImportRowError(job=job, line=e.line, column=job.mapping.get(e.key, e.key)[:100], reason=e.reason[:300])
        for e in errors
    )


def do_validate_import(job: ImportJob, progress: Progress | None = None) -> ImportJob:
    """Dry run: check every row as the import would, list each bad row, write nothing else."""
    _check_mapping(job)
    if job.status == ImportStatus.RUNNING or job.processed_rows:
        # Its error report is the run's now; a dry run would replace it.
        raise ValidationFailed(
            _("The import has started; check the file before importing it."), code=ErrorCode.IMPORT_NOT_READY
        )
    ImportRowError.objects.filter(job=job).delete()
    importer = _importer(job.kind, dry_run=True)
    errors = 0
    for batch in iter_batches(job.path, job.mapping, 0, _batch_size()):
        _plan, result = importer.check(batch.rows)
        _save_errors(job, result.errors)
        errors += len(result.errors)
        if progress:
            progress(job, batch.end)
    job.error_count = errors
    job.status = ImportStatus.VALIDATED
    job.save(update_fields=["error_count", "status"])
    return job


def claim_import(job: ImportJob, *, resume_running: bool = False) -> bool:
    """Mark a job running; False when another runner has it (so a double click runs it once)."""
    allowed = [ImportStatus.UPLOADED, ImportStatus.VALIDATED, ImportStatus.FAILED]
    if resume_running:
        allowed.append(ImportStatus.RUNNING)  # an operator resuming after a crashed worker
    _check_mapping(job)
    claimed = ImportJob.objects.filter(pk=job.pk, status__in=allowed).update(status=ImportStatus.RUNNING)
    job.refresh_from_db()
    return bool(claimed)


def do_run_import(job: ImportJob, progress: Progress | None = None) -> ImportJob:
    """Import from `processed_rows` to the end, batch by batch. Safe to call again after a crash."""
    _check_mapping(job)
    if job.status == ImportStatus.DONE:
        return job
    started_at = job.processed_rows
    _begin(job)
    importer = _importer(job.kind, dry_run=False)
    try:
        for batch in iter_batches(job.path, job.mapping, job.processed_rows, _batch_size()):
            _run_batch(job, importer, batch)
            if progress:
                progress(job, job.processed_rows)
    except Exception as exc:
        _finish(job, started_at, ImportStatus.FAILED, str(exc)[:1000])
        raise
    return _finish(job, started_at, ImportStatus.DONE, "")


def _begin(job: ImportJob) -> None:
    if job.processed_rows == 0:  # a fresh run: the dry run's report is replaced by the run's
        ImportRowError.objects.filter(job=job).delete()
        job.created_count = job.skipped_count = job.error_count = 0
    job.status = ImportStatus.RUNNING
    job.finished_at = None
    job.save(update_fields=["created_count", "skipped_count", "error_count", "status", "finished_at"])


def _run_batch(job: ImportJob, importer: MemberImporter | TransactionImporter, batch: Batch) -> None:
    for attempt in range(2):
        try:
            result = _commit_batch(job, importer, batch)
        except BatchRejected as rejected:
            _record_rejected(job, batch, rejected.errors)
            return
        except IntegrityError:
            # A concurrent writer took an external id between our check and insert: check again.
            if attempt:
                raise
            continue
        finally:
            importer.end_batch()
        job.processed_rows = batch.end
        job.created_count += result.created
        job.skipped_count += result.skipped
        return


def _commit_batch(job: ImportJob, importer: MemberImporter | TransactionImporter, batch: Batch) -> BatchResult:
    with transaction.atomic():
        plan, result = importer.check(batch.rows)  # type: ignore[arg-type]
        if result.errors:
            raise BatchRejected(result.errors)
        importer.write(plan, result)  # type: ignore[arg-type]
        if result.errors:  # refused by a service while writing (members)
            raise BatchRejected(result.errors)
        # The resume point moves in the same transaction as the rows: a crash loses both or neither.
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=batch.end,
            created_count=F("created_count") + result.created,
            skipped_count=F("skipped_count") + result.skipped,
        )
    return result


def _record_rejected(job: ImportJob, batch: Batch, errors: list[RowError]) -> None:
    with transaction.atomic():
        _save_errors(job, errors)
        ImportJob.objects.filter(pk=job.pk).update(processed_rows=batch.end, error_count=F("error_count") + len(errors))
    job.processed_rows = batch.end
    job.error_count += len(errors)


def _finish(job: ImportJob, started_at: int, status: str, message: str) -> ImportJob:
    job.refresh_from_db()
    job.status = status
    job.finished_at = clock.now()
    job.message = message or _summary(job)
    with transaction.atomic():
        job.save(update_fields=["status", "finished_at", "message"])
        record_audit(
            "import.run",
            obj=job,
            after={
                "kind": job.kind,
                "status": status,
                "from_row": started_at,
                "to_row": job.processed_rows,
                "created": job.created_count,
                "skipped": job.skipped_count,
                "errors": job.error_count,
            },
        )
    return job


def _summary(job: ImportJob) -> str:
    text = _("%(created)s created, %(skipped)s already there, %(errors)s bad rows.") % {
        "created": job.created_count,
        "skipped": job.skipped_count,
        "errors": job.error_count,
    }
    if job.error_count:
        text += " " + _("Batches with a bad row were not imported: fix those rows and import the file again.")
    return text


def progress_percent(job: ImportJob, done: int | None = None) -> int:
    done = job.processed_rows if done is None else done
    if job.total_rows <= 0:
        return 100 if job.status == ImportStatus.DONE else 0
    return min(100, done * 100 // job.total_rows)
