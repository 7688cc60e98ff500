"""Importing members and transactions: mapping, dry run, batches, re-runs, resume, files, command, views."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from tests.factories import make_member, make_sale, make_store

from patron.core import events as core_events
from patron.core.models import AuditEntry
from patron.core.permissions import Perm, Role, roles_with
from patron.members import imports
from patron.members.events import TransactionRecorded
from patron.members.models import (
    ImportJob,
    ImportRowError,
    ImportStatus,
    Member,
    MemberStatus,
    MemberTag,
    TimelineEntry,
    Transaction,
    TransactionLine,
)

pytestmark = pytest.mark.django_db

MEMBER_HEADERS = ["姓名", "手机号", "邮箱", "性别", "生日", "城市", "门店", "标签"]
TXN_HEADERS = ["订单号", "门店", "会员号", "手机", "时间", "金额", "币种", "SKU", "品类", "数量", "原订单号"]


@pytest.fixture(autouse=True)
def _small_batches_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.PATRON = {**settings.PATRON, "IMPORT_BATCH_SIZE": 3}


def csv_bytes(headers: list[str], rows: list[list[str]], bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def xlsx_bytes(headers: list[str], rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def member_row(name: str, phone: str, store: str = "SH001", **kw: str) -> list[str]:
    return [
        name,
        phone,
        kw.get("email", ""),
        kw.get("gender", "女"),
        kw.get("birthday", "1990-05-17"),
        kw.get("city", "上海"),
        store,
        kw.get("tags", ""),
    ]


def txn_row(ext: str, member_no: str = "", amount: str = "100.00", store: str = "SH001", **kw: str) -> list[str]:
    return [
        ext,
        store,
        member_no,
        kw.get("phone", ""),
        kw.get("at", "2026-03-01 14:30:00"),
        amount,
        kw.get("currency", "CNY"),
        kw.get("sku", ""),
        kw.get("category", ""),
        kw.get("quantity", ""),
        kw.get("original", ""),
    ]


def new_job(kind: str, content: bytes, filename: str = "data.csv") -> ImportJob:
    return imports.do_create_import_job(kind, filename, content, None)


def run(job: ImportJob, **kw) -> ImportJob:
    assert imports.claim_import(job, **kw)
    return imports.do_run_import(job)


def errors_of(job: ImportJob) -> list[tuple[int, str]]:
    return [(e.line, e.column) for e in ImportRowError.objects.filter(job=job)]


# --------------------------------------------------------------------------- mapping


def test_mapping_is_proposed_from_chinese_headers(store):
    job = new_job("members", csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001")]))
    assert job.mapping == {
        "name": "姓名",
        "phone": "手机号",
        "email": "邮箱",
        "gender": "性别",
        "birthday": "生日",
        "city": "城市",
        "store_code": "门店",
        "tags": "标签",
    }
    txn = new_job("transactions", csv_bytes(TXN_HEADERS, []))
    assert txn.mapping == {
        "external_id": "订单号",
        "store_code": "门店",
        "member_no": "会员号",
        "phone": "手机",
        "occurred_at": "时间",
        "amount": "金额",
        "currency": "币种",
        "sku": "SKU",
        "category": "品类",
        "quantity": "数量",
        "original_external_id": "原订单号",
    }


def test_mapping_is_proposed_from_english_headers_in_any_case_and_spacing(store):
    headers = ["Name", "Mobile", "E-mail", "Store Code", "member_no", "Card No", "Channel"]
    job = new_job("members", csv_bytes(headers, []))
    assert job.mapping == {
        "name": "Name",
        "phone": "Mobile",
        "email": "E-mail",
        "store_code": "Store Code",
        "member_no": "member_no",
        "card_no": "Card No",
        "channel": "Channel",
    }
    txn = new_job(
        "transactions",
        csv_bytes(["external_id", "Store", "Phone", "occurred_at", "Amount", "Currency", "original_external_id"], []),
    )
    assert set(txn.mapping) == {
        "external_id",
        "store_code",
        "phone",
        "occurred_at",
        "amount",
        "currency",
        "original_external_id",
    }


def test_set_mapping_refuses_unknown_columns_and_a_run_without_required_fields(store):
    job = new_job("members", csv_bytes(["who", "手机"], [["张伟", "13800000001"]]))
    assert imports.missing_fields(job)
    with pytest.raises(imports.ValidationFailed):
        imports.do_set_mapping(job, {"name": "nope"})
    with pytest.raises(imports.ValidationFailed):
        imports.claim_import(job)
    job = imports.do_set_mapping(job, {"name": "who", "phone": "手机"})
    run(job)
    assert Member.objects.get().name == "张伟"


def test_gb18030_csv_and_semicolons_are_read(store):
    content = "姓名;手机号\n李娜;13800000002\n".encode("gb18030")
    job = new_job("members", content)
    assert job.mapping == {"name": "姓名", "phone": "手机号"}
    run(job)
    assert Member.objects.get().name == "李娜"


def test_an_old_xls_or_unknown_file_is_refused(store):
    with pytest.raises(imports.ValidationFailed):
        new_job("members", b"\xd0\xcf\x11\xe0 binary", filename="old.xls")


# --------------------------------------------------------------------------- dry run


def test_member_dry_run_reports_every_bad_row_and_commits_nothing(store):
    rows = [
        member_row("张伟", "13800000001"),  # line 2 fine
        member_row("李娜", "12345"),  # line 3 bad phone
        member_row("王芳", "13800000003", store="NOPE"),  # line 4 unknown store
        member_row("刘洋", "13800000001"),  # line 5 duplicate of line 2
        member_row("陈静", "13800000005", birthday="1990-13-45"),  # line 6 bad date
        member_row("", "13800000006"),  # line 7 no name
        member_row("杨勇", "13800000007", email="not-an-email"),  # line 8 bad email
    ]
    job = new_job("members", csv_bytes(MEMBER_HEADERS, rows))
    audits = AuditEntry.objects.count()
    job = imports.do_validate_import(job)
    assert errors_of(job) == [(3, "手机号"), (4, "门店"), (5, "手机号"), (6, "生日"), (7, "姓名"), (8, "邮箱")]
    reasons = list(ImportRowError.objects.filter(job=job).values_list("reason", flat=True))
    assert "12345" in reasons[0]
    assert "NOPE" in reasons[1]
    assert "2" in reasons[2]  # says which line holds the phone first
    assert "1990-13-45" in reasons[3]
    assert job.status == ImportStatus.VALIDATED and job.error_count == 6
    assert Member.objects.count() == 0
    assert job.processed_rows == 0
    assert AuditEntry.objects.count() == audits


def test_transaction_dry_run_reports_every_bad_row_and_commits_nothing(store):
    member = make_member(phone="13900000001")
    frozen = make_member(phone="13900000002")
    frozen.status = MemberStatus.FROZEN
    frozen.save()
    rows = [
        txn_row("A1", member.member_no),  # 2 fine
        txn_row("A2", member.member_no, amount="-5"),  # 3 bad amount
        txn_row("A3", member.member_no, amount="10.001"),  # 4 three decimals
        txn_row("A4", member.member_no, store="NOPE"),  # 5 unknown store
        txn_row("A5", "9999999999"),  # 6 unknown member
        txn_row("A6", "", phone="13900009999"),  # 7 unknown phone
        txn_row("A7", member.member_no, at="yesterday"),  # 8 bad date
        txn_row("A8", member.member_no, currency="XXX"),  # 9 unknown currency
        txn_row("A9", frozen.member_no),  # 10 frozen member
        txn_row("A1", member.member_no, amount="1.00"),  # 11 same order number, other amount
        txn_row("R1", member.member_no, amount="150.00", original="A1"),  # 12 refund above the sale
        txn_row("R2", member.member_no, amount="1.00", original="NOPE"),  # 13 refund of nothing
        txn_row("A10", "", phone="139 0000 0001", at="2026-03-01T14:30:00+08:00"),  # 14 fine, by phone
    ]
    job = new_job("transactions", csv_bytes(TXN_HEADERS, rows))
    timeline = TimelineEntry.objects.count()
    job = imports.do_validate_import(job)
    assert errors_of(job) == [
        (3, "金额"),
        (4, "金额"),
        (5, "门店"),
        (6, "会员号"),
        (7, "手机"),
        (8, "时间"),
        (9, "币种"),
        (10, "会员号"),
        (11, "订单号"),
        (12, "金额"),
        (13, "原订单号"),
    ]
    assert Transaction.objects.count() == 0
    assert TimelineEntry.objects.count() == timeline


def test_dry_run_keeps_the_file_in_mind_for_refunds_across_batches(store):
    member = make_member()
    rows = [txn_row(f"S{i}", member.member_no) for i in range(4)]
    rows += [
        txn_row("R1", member.member_no, amount="60", original="S0"),
        txn_row("R2", member.member_no, amount="50", original="S0"),
    ]  # 110 > 100 in total
    job = imports.do_validate_import(new_job("transactions", csv_bytes(TXN_HEADERS, rows)))
    assert errors_of(job) == [(7, "金额")]


# --------------------------------------------------------------------------- batches


def test_a_bad_row_rejects_its_batch_only(store):
    rows = [member_row(f"会员{i}", f"138000000{i:02d}") for i in range(7)]
    rows[4] = member_row("坏号码", "999")  # line 6, in the second batch of three
    job = run(new_job("members", csv_bytes(MEMBER_HEADERS, rows)))
    assert errors_of(job) == [(6, "手机号")]
    phones = set(Member.objects.values_list("phone", flat=True))
    assert phones == {f"+86138000000{i:02d}" for i in (0, 1, 2, 6)}
    assert (job.status, job.processed_rows, job.created_count, job.error_count) == (ImportStatus.DONE, 7, 4, 1)


def test_a_bad_transaction_rejects_its_batch_only_and_refunds_see_committed_batches(store):
    member = make_member()
    rows = [
        txn_row("S1", member.member_no, sku="SKU-1", category="鞋", quantity="2"),
        txn_row("S2", member.member_no),
        txn_row("S3", member.member_no),
        txn_row("S4", member.member_no),
        txn_row("S5", member.member_no, amount="abc"),  # line 6: batch 2 rejected
        txn_row("R1", member.member_no, amount="40", original="S1"),  # refund of batch 1's sale: rejected with it
        txn_row("R2", member.member_no, amount="60", original="S1"),  # batch 3
        txn_row("R3", member.member_no, amount="1", original="S4"),  # S4 was rejected with batch 2
    ]
    job = run(new_job("transactions", csv_bytes(TXN_HEADERS, rows)))
    assert errors_of(job) == [(6, "金额"), (9, "原订单号")]
    assert set(Transaction.objects.values_list("external_id", flat=True)) == {"S1", "S2", "S3"}
    assert job.created_count == 3 and job.error_count == 2


def test_import_keeps_the_invariants_of_record_sale(store, django_capture_on_commit_callbacks):
    member = make_member()
    seen = []
    core_events.subscribe(TransactionRecorded)(seen.append)
    rows = [
        txn_row("S1", member.member_no, amount="88.50", sku="SKU-1", category="鞋", quantity="2"),
        txn_row("R1", member.member_no, amount="8.50", original="S1", currency=""),
        txn_row("S2", "", phone="+86 " + member.phone[3:], at="2026-03-01 08:00"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        job = run(new_job("transactions", csv_bytes(TXN_HEADERS, rows)))
    assert job.created_count == 3
    sale = Transaction.objects.get(external_id="S1")
    refund = Transaction.objects.get(external_id="R1")
    assert (sale.amount, sale.source, sale.kind) == (Decimal("88.50"), "import", "sale")
    assert (refund.kind, refund.original_id, refund.currency) == ("refund", sale.pk, "CNY")
    assert TransactionLine.objects.get().quantity == Decimal(2)
    naive = Transaction.objects.get(external_id="S2").occurred_at
    assert naive.isoformat() == "2026-03-01T00:00:00+00:00"  # 08:00 in Shanghai
    kinds = sorted(
        TimelineEntry.objects.filter(member=member, kind__in=["sale", "refund"]).values_list("kind", flat=True)
    )
    assert kinds == ["refund", "sale", "sale"]
    assert sorted(e.transaction_id for e in seen if e.member_id == member.pk) == sorted(
        Transaction.objects.values_list("pk", flat=True)
    )
    core_events._handlers[TransactionRecorded].remove(seen.append)


def test_imported_rows_point_at_each_other(store, settings):
    settings.PATRON = {**settings.PATRON, "IMPORT_BATCH_SIZE": 100}
    member, other = make_member(phone="13700000001"), make_member(phone="13700000002")
    rows = [txn_row(f"S{i}", (member if i % 2 else other).member_no, sku=f"SKU-{i}", quantity="1.5") for i in range(6)]
    rows += [txn_row("R1", "", amount="30", original="S1", sku="SKU-1"), txn_row("R2", "", amount="20", original="S2")]
    job = run(new_job("transactions", csv_bytes(TXN_HEADERS, rows)))
    assert (job.created_count, job.error_count) == (8, 0)
    by_ext = {t.external_id: t for t in Transaction.objects.all()}
    assert (by_ext["R1"].original_id, by_ext["R1"].member_id) == (by_ext["S1"].pk, member.pk)
    assert (by_ext["R2"].original_id, by_ext["R2"].member_id) == (by_ext["S2"].pk, other.pk)
    assert {(line.transaction_id, line.sku, line.amount) for line in TransactionLine.objects.all()} == {
        (by_ext["S0"].pk, "SKU-0", Decimal("100.00")),
        (by_ext["S1"].pk, "SKU-1", Decimal("100.00")),
        (by_ext["S2"].pk, "SKU-2", Decimal("100.00")),
        (by_ext["S3"].pk, "SKU-3", Decimal("100.00")),
        (by_ext["S4"].pk, "SKU-4", Decimal("100.00")),
        (by_ext["S5"].pk, "SKU-5", Decimal("100.00")),
        (by_ext["R1"].pk, "SKU-1", Decimal("30.00")),
    }
    assert set(TransactionLine.objects.values_list("quantity", flat=True)) == {Decimal("1.5"), Decimal(1)}
    timeline = TimelineEntry.objects.filter(kind__in=["sale", "refund"])
    assert sorted((e.member_id, e.kind, e.data["transaction_id"]) for e in timeline) == sorted(
        (t.member_id, t.kind, t.pk) for t in by_ext.values()
    )
    refund_entry = timeline.get(data__external_id="R1")
    assert refund_entry.data == {
        "transaction_id": by_ext["R1"].pk,
        "amount": "30.00",
        "currency": "CNY",
        "store": "SH001",
        "external_id": "R1",
    }
    assert by_ext["S0"].created_at is not None and by_ext["S0"].source == "import"


def test_lookups_split_into_chunks_give_the_same_result(store, settings, monkeypatch):
    settings.PATRON = {**settings.PATRON, "IMPORT_BATCH_SIZE": 100}
    monkeypatch.setattr(imports, "_KEYS_PER_QUERY", 2)
    members = [make_member(phone=f"1370000001{i}") for i in range(5)]
    make_sale(members[0], store, amount="100.00", external_id="S0")
    rows = [txn_row(f"S{i}", m.member_no) for i, m in enumerate(members)]
    rows += [txn_row("P1", "", phone=members[1].phone[3:]), txn_row("R0", "", amount="40", original="S0")]
    rows += [txn_row("R1", "", amount="60", original="S0"), txn_row("R2", "", amount="1", original="S0")]
    job = run(new_job("transactions", csv_bytes(TXN_HEADERS, rows)))
    assert errors_of(job) == [(10, "金额")]  # S0 (100) is used up by R0 and R1: the whole batch is refused
    assert job.created_count == 0
    job = run(new_job("transactions", csv_bytes(TXN_HEADERS, rows[:-1])))
    assert (job.created_count, job.skipped_count, job.error_count) == (7, 1, 0)
    assert Transaction.objects.filter(kind="refund", original__external_id="S0").count() == 2


def test_a_concurrent_insert_between_check_and_write_is_checked_again(store, monkeypatch):
    member = make_member()
    make_sale(member, store, amount="100.00", external_id="S1")
    rows = [txn_row("S1", member.member_no), txn_row("S2", member.member_no)]
    known = imports.TransactionImporter._known
    calls = []

    def first_look_misses_s1(self, parsed):  # as if another writer recorded S1 just after the first look
        found = known(self, parsed)
        if not calls:
            found = {}
        calls.append(len(found))
        return found

    monkeypatch.setattr(imports.TransactionImporter, "_known", first_look_misses_s1)
    job = run(new_job("transactions", csv_bytes(TXN_HEADERS, rows)))
    assert calls == [0, 1]  # the insert hit the unique index; the batch was rolled back and checked again
    assert (job.created_count, job.skipped_count, job.error_count) == (1, 1, 0)
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["S1", "S2"]
    assert TimelineEntry.objects.filter(kind="sale").count() == 2


def test_pending_first_purchase_member_enters_on_an_imported_sale(store, settings):
    settings.PATRON = {**settings.PATRON, "ENTRY_THRESHOLD": "first_purchase"}
    member = make_member()
    assert member.status == MemberStatus.PENDING
    run(new_job("transactions", csv_bytes(TXN_HEADERS, [txn_row("S1", member.member_no, amount="500")])))
    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE


def test_members_get_tags_timeline_and_events_like_a_sign_up(store, django_capture_on_commit_callbacks):
    rows = [member_row("张伟", "13800000001", tags="VIP；高消费", email="zw@example.com", gender="男")]
    with django_capture_on_commit_callbacks(execute=True):
        run(new_job("members", csv_bytes(MEMBER_HEADERS, rows)))
    member = Member.objects.get()
    assert (member.gender, member.store, member.join_channel, member.status) == ("M", store, "import", "active")
    assert sorted(MemberTag.objects.filter(member=member).values_list("tag__name", flat=True)) == ["VIP", "高消费"]
    assert TimelineEntry.objects.filter(member=member, kind="joined").exists()


# --------------------------------------------------------------------------- re-runs and resume


def test_importing_the_same_member_file_again_creates_no_duplicates(store):
    content = csv_bytes(MEMBER_HEADERS, [member_row(f"会员{i}", f"138000000{i:02d}") for i in range(5)])
    first = run(new_job("members", content))
    second_job = new_job("members", content)
    assert str(first.pk) in second_job.message  # says the file was imported before
    second = run(second_job)
    assert Member.objects.count() == 5
    assert (second.created_count, second.skipped_count, second.error_count) == (0, 5, 0)


def test_importing_the_same_transaction_file_again_creates_no_duplicates(store):
    member = make_member()
    make_sale(member, store, amount="100.00", external_id="S0")  # already recorded through the API
    rows = [txn_row(f"S{i}", member.member_no) for i in range(5)] + [
        txn_row("R1", member.member_no, amount="100", original="S1")
    ]
    content = csv_bytes(TXN_HEADERS, rows)
    first = run(new_job("transactions", content))
    assert (first.created_count, first.skipped_count) == (5, 1)
    second = run(new_job("transactions", content))
    assert (second.created_count, second.skipped_count, second.error_count) == (0, 6, 0)
    assert Transaction.objects.count() == 6
    assert TimelineEntry.objects.filter(member=member, kind__in=["sale", "refund"]).count() == 6


def test_a_crashed_import_resumes_from_processed_rows(store):
    member = make_member()
    content = csv_bytes(TXN_HEADERS, [txn_row(f"S{i}", member.member_no) for i in range(8)])
    job = new_job("transactions", content)
    assert imports.claim_import(job)

    def crash_after_first_batch(j: ImportJob, done: int) -> None:
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        imports.do_run_import(job, progress=crash_after_first_batch)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == (ImportStatus.FAILED, 3, 3)
    assert Transaction.objects.count() == 3
    # Rows of the first batch are removed behind the importer's back: a resume must not look at them again.
    Transaction.objects.all().delete()
    TimelineEntry.objects.filter(kind="sale").delete()
    job = run(job)
    assert (job.status, job.processed_rows, job.created_count) == (ImportStatus.DONE, 8, 8)
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == [f"S{i}" for i in range(3, 8)]
    assert AuditEntry.objects.filter(action="import.run", object_id=str(job.pk)).count() == 2


def test_a_job_left_running_by_a_dead_worker_is_resumed_only_on_purpose(store):
    job = new_job("members", csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001")]))
    assert imports.claim_import(job)
    assert not imports.claim_import(job)  # a double click does not start a second runner
    assert imports.claim_import(job, resume_running=True)


# --------------------------------------------------------------------------- Excel


def test_xlsx_members_and_transactions_import(store):
    import datetime as dt

    members = xlsx_bytes(
        ["Name", "Mobile", "Birthday", "Store"],
        [
            ["Wang Fang", 13800000001, dt.datetime(1990, 5, 17), "sh001"],
            [None, None, None, None],
            ["Li Na", "13800000002", None, "SH001"],
        ],
    )
    job = run(new_job("members", members, filename="members.xlsx"))
    assert (job.total_rows, job.created_count, job.error_count) == (3, 2, 0)
    wang = Member.objects.get(name="Wang Fang")
    assert (wang.phone, wang.birthday.isoformat()) == ("+8613800000001", "1990-05-17")
    txns = xlsx_bytes(
        ["订单号", "门店", "会员号", "时间", "金额"],
        [
            ["X1", "SH001", wang.member_no, dt.datetime(2026, 3, 1, 9, 0), 88.5],
            ["X2", "SH001", wang.member_no, "not a time", 10],
        ],
    )
    job = run(new_job("transactions", txns, filename="sales.xlsx"))
    assert errors_of(job) == [(3, "时间")]
    assert Transaction.objects.count() == 0  # same batch as the bad row
    job = imports.do_validate_import(new_job("transactions", txns[:], filename="again.xlsx"))
    assert job.error_count == 1


# --------------------------------------------------------------------------- command


def test_command_dry_run_prints_the_error_report_then_imports(store, tmp_path, capsys):
    path = tmp_path / "会员.csv"
    path.write_bytes(csv_bytes(["客户", "手机号"], [["张伟", "13800000001"], ["李娜", "bad"]]))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_file", "--kind", "members", str(path), "--map", "name=客户", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "100%" in text and "       3  手机号" in text
    assert Member.objects.count() == 0
    path.write_bytes(csv_bytes(["客户", "手机号"], [["张伟", "13800000001"], ["李娜", "13800000002"]]))
    out = io.StringIO()
    call_command("import_file", "--kind", "members", str(path), "--map", "name=客户", stdout=out)
    assert "2 created" in out.getvalue()
    assert Member.objects.count() == 2


def test_command_resumes_a_job(store):
    job = new_job("members", csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001")]))
    out = io.StringIO()
    call_command("import_file", "--resume", str(job.pk), stdout=out)
    assert "1 created" in out.getvalue()


# --------------------------------------------------------------------------- console pages by role

IMPORTERS = {r.value for r in roles_with(Perm.MEMBERS_IMPORT)}


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_import_pages_by_role(client, staff, role):
    client.force_login(staff(role))
    upload = io.BytesIO(csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001")]))
    upload.name = "members.csv"
    response = client.post(reverse("members:import_list"), {"kind": "members", "file": upload})
    listing = client.get(reverse("members:import_list"))
    if role in IMPORTERS:
        assert response.status_code == 302
        assert listing.status_code == 200
        assert ImportJob.objects.count() == 1
    else:
        assert response.status_code == 403
        assert listing.status_code == 403
        assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("role", [r.value for r in Role if r.value not in IMPORTERS])
def test_import_actions_are_refused_and_change_nothing_without_the_permission(client, staff, store, role):
    job = new_job("members", csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001")]))
    client.force_login(staff(role))
    for name in ("import_detail", "import_progress"):
        assert client.get(reverse(f"members:{name}", args=[job.pk])).status_code == 403
    for name in ("import_mapping", "import_check", "import_run"):
        assert client.post(reverse(f"members:{name}", args=[job.pk]), {"map_name": "城市"}).status_code == 403
    job.refresh_from_db()
    assert (job.status, job.mapping["name"]) == (ImportStatus.UPLOADED, "姓名")
    assert Member.objects.count() == 0


def test_console_import_flow_for_an_admin(client, staff, store, django_capture_on_commit_callbacks):
    client.force_login(staff("admin"))
    upload = io.BytesIO(csv_bytes(["客户", "手机号"], [["张伟", "13800000001"], ["李娜", "x"]]))
    upload.name = "members.csv"
    response = client.post(reverse("members:import_list"), {"kind": "members", "file": upload})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("members:import_detail", args=[job.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200 and 'name="map_name"' in page.content.decode()
    client.post(reverse("members:import_mapping", args=[job.pk]), {"map_name": "客户", "map_phone": "手机号"})
    client.post(reverse("members:import_check", args=[job.pk]))
    page = client.get(reverse("members:import_detail", args=[job.pk])).content.decode()
    assert '<td class="num">3</td><td>手机号</td>' in page
    assert Member.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("members:import_run", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.error_count == 1 and job.created_count == 0  # one batch of three: the bad row rejects it
    progress = client.get(reverse("members:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert "<progress" in progress.content.decode() and progress["HX-Refresh"] == "true"
    entry = AuditEntry.objects.get(action="import.run")
    assert entry.actor_label.startswith(job.created_by.username)


def test_progress_fragment_polls_while_running(client, staff, store):
    job = new_job("members", csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001")] * 4))
    imports.claim_import(job)
    client.force_login(staff("admin"))
    html = client.get(reverse("members:import_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="0"' in html


def test_upload_of_a_bad_file_says_why(client, staff):
    client.force_login(staff("admin"))
    upload = io.BytesIO(b"junk")
    upload.name = "members.pdf"
    response = client.post(reverse("members:import_list"), {"kind": "members", "file": upload})
    assert response.status_code == 422
    assert ImportJob.objects.count() == 0


def test_stores_are_matched_by_code_in_any_case(store):
    other = make_store(code="BJ002", city="北京")
    job = run(new_job("members", csv_bytes(MEMBER_HEADERS, [member_row("张伟", "13800000001", store="bj002")])))
    assert job.created_count == 1
    assert Member.objects.get().store == other
