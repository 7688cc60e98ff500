"""Every write to the member registry. Each `do_*` runs in one transaction and publishes its
events after commit; views, the API, imports and commands all come through here."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from patron.core import clock
from patron.core.audit import record_audit
from patron.core.cache import KeyedProcessCache
from patron.core.context import current_actor
from patron.core.db import insert_or_nothing, remember_related
from patron.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from patron.core.events import publish
from patron.core.permissions import Role
from patron.core.types import is_known_currency
from patron.members import events, queries
from patron.members.errors import ErrorCode
from patron.members.models import (
    LIVE_STATUSES,
    AttributeDefinition,
    AttributeType,
    ConsentPurpose,
    ConsentRecord,
    EntryRoute,
    Gender,
    JoinChannel,
    Member,
    MemberAttribute,
    MemberMerge,
    MemberStatus,
    MemberTag,
    StaffProfile,
    Store,
    Tag,
    TagSource,
    TimelineEntry,
    Transaction,
    TransactionKind,
    TransactionLine,
)
from patron.members.names import pinyin_keys
from patron.members.numbers import random_member_no
from patron.members.phones import normalize_phone, try_normalize

# --------------------------------------------------------------------------- timeline


def add_timeline(member: Member, kind: str, **data: Any) -> TimelineEntry:
    """Record a state change on the member's timeline, in the caller's transaction."""
    return TimelineEntry.objects.create(
        member=member, at=clock.now(), kind=kind, data=_jsonable(data), actor_label=current_actor().label[:150]
    )


def add_timeline_rows(kind: str, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
    """`add_timeline` for many members at once, (member id, data) each: one INSERT for a batch job."""
    at, actor = clock.now(), current_actor().label[:150]
    TimelineEntry.objects.bulk_create(
        TimelineEntry(member_id=member_id, at=at, kind=kind, data=_jsonable(data), actor_label=actor)
        for member_id, data in rows
    )


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Decimal | dt.date | dt.datetime):
            out[key] = str(value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- stores and staff


@transaction.atomic
def do_create_store(
    *, code: str, name: str, city: str, name_en: str = "", region: str = "", address: str = ""
) -> Store:
    code = code.strip().upper()
    if not code or not name.strip() or not city.strip():
        raise ValidationFailed(_("Store code, name and city are required."))
    taken = Conflict(_("A store with code %(code)s already exists.") % {"code": code}, fields={"code": _("taken")})
    if Store.objects.filter(code=code).exists():
        raise taken
    try:
        with transaction.atomic():  # the unique key settles a race the check above cannot see
            store = Store.objects.create(
                code=code,
                name=name.strip(),
                name_en=name_en.strip(),
                city=city.strip(),
                region=region.strip(),
                address=address.strip(),
                created_at=clock.now(),
            )
    except IntegrityError as exc:
        raise taken from exc
    record_audit("store.create", obj=store, after={"code": code, "name": store.name, "city": store.city})
    return store


@transaction.atomic
def do_update_store(*, store: Store, **changes: Any) -> Store:
    allowed = {"name", "name_en", "city", "region", "address", "is_active"}
    before = {k: getattr(store, k) for k in changes if k in allowed}
    for key, value in changes.items():
        if key not in allowed:
            raise ValidationFailed(_("Unknown store field %(field)s.") % {"field": key})
        setattr(store, key, value.strip() if isinstance(value, str) else value)
    store.save()
    record_audit("store.update", obj=store, before=before, after={k: getattr(store, k) for k in before})
    transaction.on_commit(forget_key_stores)
    return store


@transaction.atomic
def do_create_staff(
    *, username: str, password: str, role: str, display_name: str = "", store: Store | None = None, email: str = ""
) -> Any:
    User = get_user_model()
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationFailed(_("Unknown role %(role)s.") % {"role": role}, fields={"role": _("unknown")}) from exc
    if role == Role.CASHIER and store is None:
        raise ValidationFailed(_("A cashier must be bound to a store."), fields={"store": _("required")})
    taken = Conflict(_("The username %(u)s is taken.") % {"u": username}, fields={"username": _("taken")})
    if User.objects.filter(username=username).exists():
        raise taken
    try:
        with transaction.atomic():  # the unique key settles a race the check above cannot see
            user = User.objects.create_user(
                username=username,
                password=password,
                email=email,
                role=role,
                display_name=display_name,
                # Program admins also get Django's admin for back-office data, with all its model permissions.
                is_staff=role == Role.ADMIN,
                is_superuser=role == Role.ADMIN,
            )
    except IntegrityError as exc:
        raise taken from exc
    StaffProfile.objects.create(user=user, store=store)
    record_audit(
        "staff.create", obj=user, after={"username": username, "role": role, "store": store.code if store else None}
    )
    return user


@transaction.atomic
def do_update_staff(
    *,
    user: Any,
    role: str | None = None,
    store: Store | None = None,
    is_active: bool | None = None,
    display_name: str | None = None,
) -> Any:
    before = {"role": user.role, "is_active": user.is_active, "store": _staff_store_code(user)}
    if role is not None:
        user.role = Role(role)
        user.is_staff = user.is_superuser = user.role == Role.ADMIN
    if is_active is not None:
        user.is_active = is_active
    if display_name is not None:
        user.display_name = display_name
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    profile.store = store
    if user.role == Role.CASHIER and store is None:
        raise ValidationFailed(_("A cashier must be bound to a store."), fields={"store": _("required")})
    profile.save()
    user.save()
    record_audit(
        "staff.update",
        obj=user,
        before=before,
        after={"role": user.role, "is_active": user.is_active, "store": store.code if store else None},
    )
    return user


def _staff_store_code(user: Any) -> str | None:
    store = queries.staff_store(user)
    return store.code if store else None


# --------------------------------------------------------------------------- members


@dataclass
class NewMember:
    """What a sign-up needs; the API, console, portal and imports all fill one of these."""

    name: str
    phone: str
    email: str = ""
    gender: str = "U"
    birthday: dt.date | None = None
    city: str = ""
    language: str = "zh-hans"
    time_zone: str = ""  # blank: the program's zone
    store: Store | None = None
    join_channel: str = "store"
    joined_at: dt.datetime | None = None
    card_no: str | None = None
    referrer: Member | None = None
    promoter: Any = None
    consents: dict[str, bool] = field(default_factory=dict)
    notice_version: str = "2026-01"
    consent_source: str = "console"
    attributes: dict[str, Any] = field(default_factory=dict)
    entry_route: str | None = None  # None: the program's configured threshold


def entry_threshold() -> EntryRoute:
    return EntryRoute(settings.PATRON["ENTRY_THRESHOLD"])


@transaction.atomic
def do_create_member(*, data: NewMember) -> Member:
    name = (data.name or "").strip()
    if not name:
        raise ValidationFailed(_("A name is required."), fields={"name": _("required")})
    phone = normalize_phone(data.phone)
    if (data.entry_route or "open") not in EntryRoute.values:
        raise ValidationFailed(_("Unknown entry route %(r)s.") % {"r": data.entry_route})
    if data.join_channel not in JoinChannel.values:
        raise ValidationFailed(
            _("Unknown join channel %(c)s.") % {"c": data.join_channel}, fields={"join_channel": _("unknown")}
        )
    route = EntryRoute(data.entry_route or entry_threshold())
    clean = {
        key: _clean_plain_value(key, getattr(data, key))
        for key in ("email", "gender", "language", "birthday", "time_zone")
    }
    _check_phone_free(phone)
    if data.card_no and Member.objects.filter(card_no=data.card_no).exists():
        raise Conflict(
            _("Card %(card)s already belongs to a member.") % {"card": data.card_no}, code=ErrorCode.CARD_TAKEN
        )
    full, initials = pinyin_keys(name)
    now = clock.now()
    member = Member(
        member_no=random_member_no(),
        card_no=data.card_no or None,
        name=name,
        name_pinyin=full,
        name_initials=initials,
        phone=phone,
        phone_last4=phone[-4:],
        email=clean["email"],
        gender=clean["gender"],
        birthday=clean["birthday"],
        city=(data.city or "").strip(),
        language=clean["language"],
        time_zone=clean["time_zone"],
        store=data.store,
        joined_at=data.joined_at or now,
        join_channel=data.join_channel,
        entry_route=route,
        referrer=data.referrer,
        promoter=data.promoter,
        status=MemberStatus.ACTIVE if route == EntryRoute.OPEN else MemberStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    _insert_with_unique_number(member)
    for purpose, granted in data.consents.items():
        _append_consent(member, purpose, granted, data.notice_version, data.consent_source)
    for key, value in data.attributes.items():
        _set_attribute(member, key, value, source=data.consent_source)
    add_timeline(member, "joined", channel=member.join_channel, route=route, status=member.status)
    record_audit("member.create", obj=member, after={"member_no": member.member_no, "status": member.status})
    publish(events.MemberJoined(member.pk, member.store_id, member.join_channel, member.referrer_id))
    if member.status == MemberStatus.ACTIVE:
        publish(events.MemberActivated(member.pk, route))
    return member


def _check_phone_free(phone: str, exclude: Member | None = None) -> None:
    taken = Member.objects.filter(phone=phone, status__in=LIVE_STATUSES)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(
            _("This phone number already belongs to a member."),
            code=ErrorCode.PHONE_TAKEN,
            fields={"phone": _("taken")},
        )


def _insert_with_unique_number(member: Member) -> None:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                member.save(force_insert=True)
            return
        except IntegrityError as exc:
            if Member.objects.filter(member_no=member.member_no).exists():
                member.member_no = random_member_no()
                continue
            # The partial unique index on phone caught a concurrent sign-up with the same number.
            raise Conflict(_("This phone number already belongs to a member."), code=ErrorCode.PHONE_TAKEN) from exc
    raise Conflict(_("Could not allocate a member number; try again."))


PROFILE_FIELDS = {
    "name",
    "phone",
    "email",
    "gender",
    "birthday",
    "city",
    "language",
    "time_zone",
    "store",
    "card_no",
    "referrer",
}


@transaction.atomic
def do_update_member(*, member: Member, changes: dict[str, Any]) -> Member:
    member = lock_member(member.pk)
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    _check_not_closed(member)
    changed: dict[str, tuple[Any, Any]] = {}
    for key, value in changes.items():
        value = _clean_profile_value(member, key, value)
        old = getattr(member, key)
        if old != value:
            changed[key] = (old, value)
            setattr(member, key, value)
    if not changed:
        return member
    if "name" in changed:
        member.name_pinyin, member.name_initials = pinyin_keys(member.name)
    if "phone" in changed:
        member.phone_last4 = member.phone[-4:]
    member.updated_at = clock.now()
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError as exc:  # the partial unique index caught a concurrent claim of the phone or card
        raise Conflict(_("This phone number or card already belongs to a member."), code=ErrorCode.PHONE_TAKEN) from exc
    shown = {k: (_display(v[0]), _display(v[1])) for k, v in changed.items()}
    add_timeline(member, "profile_changed", fields=sorted(changed))
    record_audit(
        "member.update",
        obj=member,
        before={k: v[0] for k, v in shown.items()},
        after={k: v[1] for k, v in shown.items()},
    )
    publish(events.MemberProfileChanged(member.pk, tuple(sorted(changed))))
    return member


def _display(value: Any) -> Any:
    if isinstance(value, Member | Store):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _clean_profile_value(member: Member, key: str, value: Any) -> Any:
    if key == "name":
        value = (value or "").strip()
        if not value:
            raise ValidationFailed(_("A name is required."), fields={"name": _("required")})
    elif key == "phone":
        value = normalize_phone(value)
        if value != member.phone:
            _check_phone_free(value, exclude=member)
    elif key == "card_no":
        value = (value or "").strip() or None
        if value and Member.objects.filter(card_no=value).exclude(pk=member.pk).exists():
            raise Conflict(_("Card %(card)s already belongs to a member.") % {"card": value}, code=ErrorCode.CARD_TAKEN)
    elif key == "referrer" and value is not None and value.pk == member.pk:
        raise ValidationFailed(_("A member cannot refer themselves."), fields={"referrer": _("self")})
    else:
        value = _clean_plain_value(key, value)
    return value


@functools.cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _clean_plain_value(key: str, value: Any) -> Any:
    """Checks of profile fields that do not depend on other members (sign-up and update alike)."""
    if key == "gender":
        value = (value or "U").strip() if isinstance(value, str) else value
        if value not in Gender.values:
            raise ValidationFailed(_("Unknown gender %(g)s.") % {"g": value}, fields={"gender": _("unknown")})
    elif key == "language":
        value = (value or "zh-hans").strip() if isinstance(value, str) or value is None else value
        if value not in {code for code, _label in settings.LANGUAGES}:
            raise ValidationFailed(_("Unknown language %(l)s.") % {"l": value}, fields={"language": _("unknown")})
    elif key == "time_zone":
        value = (value or "").strip()
        if value and value not in time_zone_names():
            raise ValidationFailed(
                _("Unknown time zone %(z)s (an IANA name like Asia/Shanghai).") % {"z": value},
                fields={"time_zone": _("unknown")},
            )
    elif key == "email":
        value = (value or "").strip()
        if value:
            try:
                validate_email(value)
            except DjangoValidationError as exc:
                raise ValidationFailed(
                    _("%(e)s is not an email address.") % {"e": value}, fields={"email": _("invalid")}
                ) from exc
    elif key == "birthday":
        _check_birthday(value)
    elif key in _TEXT_FIELDS:
        value = (value or "").strip()
    return value


_TEXT_FIELDS = {"city"}


def _check_birthday(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValidationFailed(_("The birthday must be a date."), fields={"birthday": _("invalid")})
    if value > clock.local_today() or value.year < 1900:
        raise ValidationFailed(_("The birthday is not a plausible date."), fields={"birthday": _("invalid")})


# The member whose row the current block has locked (see `holding`).
_held: ContextVar[Member | None] = ContextVar("patron_held_member", default=None)


def lock_member(pk: int) -> Member:
    """The member's row, locked until the transaction ends (every write about a member takes it
    first). Inside `holding(member)` for this member, that member without another round trip."""
    held = _held.get()
    if held is not None and held.pk == pk:
        return held
    try:
        return Member.objects.select_for_update().get(pk=pk)
    except Member.DoesNotExist as exc:
        raise NotFound(_("Member not found."), code=ErrorCode.MEMBER_NOT_FOUND) from exc


@contextlib.contextmanager
def holding(member: Member) -> Iterator[None]:
    """Mark `member` as locked for the services called inside the block (a sale's hooks: earning,
    the ledger, tiers), so each need not lock and read the row again.

    Only for a row locked before the block, in the same transaction: no savepoint rolled back inside
    the block can then release the lock (PostgreSQL releases only the locks a rolled-back
    subtransaction took)."""
    token = _held.set(member)
    try:
        yield
    finally:
        _held.reset(token)


def _check_not_closed(member: Member) -> None:
    if member.status in {MemberStatus.CLOSED, MemberStatus.MERGED, MemberStatus.ERASED, MemberStatus.REJECTED}:
        raise ValidationFailed(
            _("This membership is %(status)s and cannot be changed.") % {"status": member.get_status_display()},
            code=ErrorCode.MEMBER_NOT_ACTIVE,
        )


# --------------------------------------------------------------------------- status and entry

_STATUS_MOVES = {
    MemberStatus.ACTIVE: {MemberStatus.FROZEN, MemberStatus.CLOSED},
    MemberStatus.FROZEN: {MemberStatus.ACTIVE, MemberStatus.CLOSED},
    MemberStatus.PENDING: {MemberStatus.CLOSED},
}


@transaction.atomic
def do_change_status(*, member: Member, status: str, reason: str) -> Member:
    """Freeze, unfreeze or close a membership. Always with a reason."""
    member = lock_member(member.pk)
    if not reason.strip():
        raise ValidationFailed(_("Give a reason."), code=ErrorCode.REASON_REQUIRED, fields={"reason": _("required")})
    if status not in MemberStatus.values:
        raise ValidationFailed(
            _("Unknown status %(s)s.") % {"s": status},
            code=ErrorCode.INVALID_STATUS_CHANGE,
            fields={"status": _("unknown")},
        )
    new = MemberStatus(status)
    if new not in _STATUS_MOVES.get(MemberStatus(member.status), set()):
        raise ValidationFailed(
            _("A %(old)s membership cannot become %(new)s.") % {"old": member.get_status_display(), "new": new.label},
            code=ErrorCode.INVALID_STATUS_CHANGE,
        )
    return _set_status(member, new, reason.strip(), action="member.status")


def _set_status(member: Member, new: MemberStatus, reason: str, *, action: str) -> Member:
    old = member.status
    member.status = new
    member.status_reason = reason[:200]
    member.updated_at = clock.now()
    member.save(update_fields=["status", "status_reason", "updated_at"])
    add_timeline(member, "status_changed", old=old, new=new, reason=reason)
    record_audit(action, obj=member, before={"status": old}, after={"status": new}, reason=reason)
    publish(events.MemberStatusChanged(member.pk, old, new))
    return member


@transaction.atomic
def do_erase_member(*, member: Member, reason: str) -> Member:
    """Erase a member's personal data on their request (PIPL). What identifies the person goes;
    the facts stay (transactions, consent history, the member number), so the books and every
    total built on them stay consistent. Marketing consents are withdrawn so nothing is sent."""
    if not reason.strip():
        raise ValidationFailed(_("Give a reason."), code=ErrorCode.REASON_REQUIRED, fields={"reason": _("required")})
    member = lock_member(member.pk)
    if member.status in {MemberStatus.MERGED, MemberStatus.ERASED}:
        raise ValidationFailed(
            _("A %(status)s membership cannot be erased.") % {"status": member.get_status_display()},
            code=ErrorCode.INVALID_STATUS_CHANGE,
        )
    for purpose, record in queries.current_consent_state(member).items():
        if record.granted:
            _append_consent(member, purpose, False, record.notice_version, "erasure")
    MemberAttribute.objects.filter(member=member).delete()
    MemberTag.objects.filter(member=member).delete()
    _blank_personal_data(member)
    return _set_status(member, MemberStatus.ERASED, reason.strip(), action="member.erase")


def _blank_personal_data(member: Member) -> None:
    member.name = member.member_no  # something to show in lists; nothing about the person
    member.name_pinyin = member.name_initials = ""
    member.phone = member.phone_last4 = member.email = member.city = ""
    member.card_no = None
    member.birthday = None
    member.gender = Gender.UNKNOWN
    member.save(
        update_fields=[
            "name",
            "name_pinyin",
            "name_initials",
            "phone",
            "phone_last4",
            "email",
            "city",
            "card_no",
            "birthday",
            "gender",
        ]
    )


def _activate(member: Member, route: str, reason: str, action: str) -> Member:
    _set_status(member, MemberStatus.ACTIVE, reason, action=action)
    publish(events.MemberActivated(member.pk, route))
    return member


def _locked_pending(member: Member) -> Member:
    member = lock_member(member.pk)
    if member.status != MemberStatus.PENDING:
        raise ValidationFailed(_("This membership is not waiting for entry."), code=ErrorCode.NOT_PENDING)
    return member


@transaction.atomic
def do_approve_application(*, member: Member, note: str = "") -> Member:
    member = _locked_pending(member)
    return _activate(member, EntryRoute.APPLICATION, note or _("Application approved"), "member.approve")


@transaction.atomic
def do_reject_application(*, member: Member, reason: str) -> Member:
    if not reason.strip():
        raise ValidationFailed(
            _("Give a reason for the rejection."), code=ErrorCode.REASON_REQUIRED, fields={"reason": _("required")}
        )
    member = _locked_pending(member)
    return _set_status(member, MemberStatus.REJECTED, reason.strip(), action="member.reject")


@transaction.atomic
def do_record_entry_fee(*, member: Member, amount: Decimal, currency: str) -> Member:
    member = _locked_pending(member)
    amount = check_money(amount, currency)
    fee = Decimal(settings.PATRON["ENTRY_FEE"])
    if amount < fee:
        raise ValidationFailed(
            _("The membership fee is %(fee)s; %(paid)s was paid.") % {"fee": fee, "paid": amount},
            code=ErrorCode.INVALID_AMOUNT,
        )
    add_timeline(member, "fee_paid", amount=amount, currency=currency)
    return _activate(member, EntryRoute.FEE, _("Membership fee paid"), "member.fee_paid")


def maybe_activate_on_purchase(member: Member, txn: Transaction) -> None:
    if member.status != MemberStatus.PENDING or member.entry_route != EntryRoute.FIRST_PURCHASE:
        return
    if txn.kind == TransactionKind.SALE and txn.amount >= Decimal(settings.PATRON["ENTRY_MIN_PURCHASE"]):
        _activate(member, EntryRoute.FIRST_PURCHASE, _("Qualifying first purchase"), "member.activate")


# --------------------------------------------------------------------------- consent, attributes, tags


def _append_consent(member: Member, purpose: str, granted: bool, notice_version: str, source: str) -> ConsentRecord:
    if purpose not in ConsentPurpose.values:
        raise ValidationFailed(_("Unknown consent purpose %(p)s.") % {"p": purpose}, fields={"purpose": _("unknown")})
    return ConsentRecord.objects.create(
        member=member,
        purpose=purpose,
        granted=bool(granted),
        notice_version=notice_version or "",
        source=source,
        actor_label=current_actor().label[:150],
        at=clock.now(),
    )


@transaction.atomic
def do_record_consent(
    *, member: Member, purpose: str, granted: bool, notice_version: str, source: str
) -> ConsentRecord:
    member = lock_member(member.pk)
    record = _append_consent(member, purpose, granted, notice_version, source)
    add_timeline(member, "consent", purpose=purpose, granted=bool(granted), source=source)
    publish(events.ConsentChanged(member.pk, purpose, bool(granted)))
    return record


def has_consent(member: Member, purpose: str) -> bool:
    record = ConsentRecord.objects.filter(member=member, purpose=purpose).order_by("-at", "-id").first()
    return bool(record and record.granted)


def coerce_attribute(definition: AttributeDefinition, value: Any) -> Any:
    """Validate a value against its definition and return its JSON form."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, list | dict | tuple | set):
            raise ValueError(value)
        if definition.type == AttributeType.INTEGER:
            # Whole numbers only: no bools, and no silent truncation of 1.5 to 1.
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            number = int(value) if isinstance(value, int | float) else int(str(value).strip())
            if abs(number) >= 2**53:
                raise ValueError(value)
            return number
        if definition.type == AttributeType.DECIMAL:
            if isinstance(value, bool):
                raise ValueError(value)
            decimal = Decimal(str(value).strip())
            if not decimal.is_finite():
                raise ValueError(value)
            return str(decimal)
        if definition.type == AttributeType.BOOLEAN:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "y", "是"}:
                return True
            if text in {"0", "false", "no", "n", "否"}:
                return False
            raise ValueError(text)
        if definition.type == AttributeType.DATE:
            return (value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip())).isoformat()
        if definition.type == AttributeType.CHOICE:
            if str(value) not in [str(c) for c in definition.choices]:
                raise ValueError(value)
            return str(value)
        return str(value).strip()
    except (ValueError, TypeError, OverflowError, InvalidOperation) as exc:
        raise ValidationFailed(
            _("%(value)s is not a valid value for %(label)s.") % {"value": value, "label": definition.label},
            code=ErrorCode.INVALID_ATTRIBUTE,
            fields={definition.key: _("invalid")},
        ) from exc


def _set_attribute(member: Member, key: str, value: Any, source: str) -> None:
    definition = AttributeDefinition.objects.filter(key=key, is_active=True).first()
    if definition is None:
        raise ValidationFailed(
            _("Unknown attribute %(key)s.") % {"key": key}, code=ErrorCode.UNKNOWN_ATTRIBUTE, fields={key: _("unknown")}
        )
    coerced = coerce_attribute(definition, value)
    if coerced is None:
        MemberAttribute.objects.filter(member=member, definition=definition).delete()
        return
    if definition.sensitive and not has_consent(member, ConsentPurpose.SENSITIVE):
        raise ValidationFailed(
            _("%(label)s is sensitive and the member has not consented to its collection.")
            % {"label": definition.label},
            code=ErrorCode.CONSENT_REQUIRED,
            fields={key: _("consent required")},
        )
    MemberAttribute.objects.update_or_create(
        member=member, definition=definition, defaults={"value": coerced, "source": source, "updated_at": clock.now()}
    )


@transaction.atomic
def do_set_attributes(*, member: Member, values: dict[str, Any], source: str = "console") -> Member:
    member = lock_member(member.pk)
    _check_not_closed(member)
    for key, value in values.items():
        _set_attribute(member, key, value, source)
    add_timeline(member, "attributes_changed", keys=sorted(values))
    return member


@transaction.atomic
def do_tag_member(*, member: Member, tag_name: str, source: str = "agent") -> MemberTag:
    name = tag_name.strip()
    if not name or len(name) > 50:
        raise ValidationFailed(_("A tag is 1 to 50 characters."), fields={"tag": _("invalid")})
    if source not in TagSource.values:
        raise ValidationFailed(_("Unknown tag source %(s)s.") % {"s": source}, fields={"source": _("unknown")})
    member = lock_member(member.pk)  # two taggings of one member queue here instead of racing the unique key
    _check_not_closed(member)
    tag, _created = Tag.objects.get_or_create(name=name)
    existing = MemberTag.objects.filter(member=member, tag=tag).first()
    if existing:
        return existing
    link = MemberTag.objects.create(
        member=member, tag=tag, source=source, tagged_at=clock.now(), actor_label=current_actor().label[:150]
    )
    add_timeline(member, "tagged", tag=name, source=source)
    publish(events.MemberTagged(member.pk, name, source))
    return link


@transaction.atomic
def do_untag_member(*, member: Member, tag_name: str) -> None:
    deleted, _rows = MemberTag.objects.filter(member=member, tag__name=tag_name.strip()).delete()
    if deleted:
        add_timeline(member, "untagged", tag=tag_name.strip())


@transaction.atomic
def do_define_attribute(
    *, key: str, label: str, label_en: str, type: str, choices: list[str] | None = None, sensitive: bool = False
) -> AttributeDefinition:
    if type not in AttributeType.values:
        raise ValidationFailed(_("Unknown attribute type %(t)s.") % {"t": type}, fields={"type": _("unknown")})
    if type == AttributeType.CHOICE and not choices:
        raise ValidationFailed(_("A choice attribute needs choices."), fields={"choices": _("required")})
    definition, _created = AttributeDefinition.objects.update_or_create(
        key=key,
        defaults={
            "label": label,
            "label_en": label_en,
            "type": type,
            "choices": choices or [],
            "sensitive": sensitive,
            "is_active": True,
        },
    )
    record_audit("attribute.define", obj=definition, after={"key": key, "type": type, "sensitive": sensitive})
    return definition


# --------------------------------------------------------------------------- personal data


@transaction.atomic
def do_reveal_phone(*, member: Member, reason: str) -> str:
    """Show a member's full phone number to a role allowed to see it, leaving an audit row."""
    if not reason.strip():
        raise ValidationFailed(
            _("Say why you need the full number."), code=ErrorCode.REASON_REQUIRED, fields={"reason": _("required")}
        )
    record_audit("member.reveal_phone", obj=member, reason=reason.strip())
    return member.phone


QR_SALT = "patron.members.qr"


def issue_qr_token(member: Member) -> str:
    """A short-lived token the portal shows as a QR code for the till to scan."""
    return signing.TimestampSigner(salt=QR_SALT).sign(member.member_no)


def member_from_qr_token(token: str) -> Member:
    max_age = settings.PATRON["QR_TOKEN_SECONDS"]
    try:
        member_no = signing.TimestampSigner(salt=QR_SALT).unsign(token, max_age=max_age)
    except signing.BadSignature as exc:
        raise ValidationFailed(_("The QR code is invalid or has expired."), code=ErrorCode.INVALID_TOKEN) from exc
    member = Member.objects.filter(member_no=member_no).first()
    # A code shown before a merge still identifies the person: follow the merge to the survivor.
    for _hop in range(5):
        if member is None or member.merged_into_id is None:
            break
        member = Member.objects.filter(pk=member.merged_into_id).first()
    if member is None:
        raise NotFound(_("Member not found."), code=ErrorCode.MEMBER_NOT_FOUND)
    return member


# --------------------------------------------------------------------------- finding members and stores at the till


# The stores store-bound API keys belong to, read on every till request. A store's code never
# changes; its other fields reach other processes within the cache time, as API keys do.
_key_stores: KeyedProcessCache[int, Store] = KeyedProcessCache(10.0, lambda pk: Store.objects.get(pk=pk))


def forget_key_stores() -> None:
    _key_stores.forget()


def store_for_key(code: str | None, key_store_id: int | None) -> Store:
    """A store-bound key works for its own store only; an integration key names the store."""
    if key_store_id is not None:
        store = _key_stores.get(key_store_id)
        if code and code != store.code:
            raise PermissionDenied(
                _("This API key belongs to store %(s)s.") % {"s": store.code}, code=ErrorCode.STORE_NOT_ALLOWED
            )
        return store
    if not code:
        raise ValidationFailed(_("Name the store (store_code)."), fields={"store_code": _("required")})
    found = Store.objects.filter(code=code).first()
    if found is None:
        raise NotFound(_("No store %(s)s.") % {"s": code}, code=ErrorCode.STORE_NOT_FOUND)
    return found


def find_member(
    *, phone: str | None = None, member_no: str | None = None, card_no: str | None = None, qr_token: str | None = None
) -> Member:
    """The member a till names."""
    return _find_member(phone, member_no, card_no, qr_token, lock=False)


def find_and_lock_member(
    *, phone: str | None = None, member_no: str | None = None, card_no: str | None = None, qr_token: str | None = None
) -> Member:
    """The member a till names, locked in the same read (inside a transaction), for a write that
    would lock the row next anyway."""
    return _find_member(phone, member_no, card_no, qr_token, lock=True)


def _find_member(
    phone: str | None, member_no: str | None, card_no: str | None, qr_token: str | None, *, lock: bool
) -> Member:
    if qr_token:
        found = member_from_qr_token(qr_token)
        return lock_member(found.pk) if lock else found
    qs = Member.objects.select_related("store").exclude(status__in=["merged", "erased", "rejected"])
    if lock:
        qs = qs.select_for_update(of=("self",))
    member = None
    if member_no:
        member = qs.filter(member_no=member_no.strip()).first()
    elif card_no:
        member = qs.filter(card_no=card_no.strip()).first()
    elif phone:
        e164 = try_normalize(phone)
        if e164 is None:
            raise ValidationFailed(
                _("%(p)s is not a valid phone number.") % {"p": phone},
                code=ErrorCode.INVALID_PHONE,
                fields={"phone": _("invalid")},
            )
        member = qs.filter(phone=e164, status__in=["pending", "active", "frozen"]).first()
    else:
        raise ValidationFailed(_("Give a phone, member number, card number or QR token."))
    if member is None:
        raise NotFound(_("Member not found."), code=ErrorCode.MEMBER_NOT_FOUND)
    return member


# --------------------------------------------------------------------------- transactions


@dataclass
class LineInput:
    sku: str
    quantity: Decimal
    amount: Decimal
    category: str = ""


@dataclass
class SaleInput:
    store: Store
    member: Member
    external_id: str
    occurred_at: dt.datetime
    amount: Decimal
    currency: str
    channel: str = "store"
    lines: list[LineInput] = field(default_factory=list)
    source: str = "api"


def check_store_allowed(user: Any, store: Store) -> None:
    """A cashier records sales only for the store they are bound to."""
    if user is None or getattr(user, "role", None) != Role.CASHIER or user.is_superuser:
        return
    if _staff_store_code(user) != store.code:
        raise PermissionDenied(
            _("You can only record transactions for your own store."), code=ErrorCode.STORE_NOT_ALLOWED
        )


def check_money(amount: Any, currency: str) -> Decimal:
    if not is_known_currency(currency):
        raise ValidationFailed(
            _("Unknown currency %(c)s.") % {"c": currency},
            code=ErrorCode.UNKNOWN_CURRENCY,
            fields={"currency": _("unknown")},
        )
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValidationFailed(
            _("Not an amount."), code=ErrorCode.INVALID_AMOUNT, fields={"amount": _("invalid")}
        ) from exc
    # 12.500 is 12.50; 12.505 has a third decimal that a money amount cannot carry.
    if not value.is_finite() or value <= 0 or value >= Decimal("1e12") or value != value.quantize(Decimal("0.01")):
        raise ValidationFailed(
            _("The amount must be positive with at most two decimals."),
            code=ErrorCode.INVALID_AMOUNT,
            fields={"amount": _("invalid")},
        )
    return value.quantize(Decimal("0.01"))


def check_time(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValidationFailed(_("The time needs a time zone."), fields={"occurred_at": _("no time zone")})
    try:
        utc = at.astimezone(dt.UTC)
    except OverflowError as exc:  # 0001-01-01 at +08:00 has no UTC form
        raise ValidationFailed(_("The time is out of range."), fields={"occurred_at": _("out of range")}) from exc
    if utc > clock.now() + dt.timedelta(minutes=10):
        raise ValidationFailed(_("The time is in the future."), fields={"occurred_at": _("in the future")})
    if utc.year < 1970:
        raise ValidationFailed(_("The time is too far in the past."), fields={"occurred_at": _("too old")})
    return utc


def _same_sale(
    existing: Transaction, data: SaleInput, kind: str = TransactionKind.SALE, original: Transaction | None = None
) -> bool:
    return (
        existing.member_id == data.member.pk
        and existing.amount == data.amount
        and existing.currency == data.currency
        and existing.kind == kind
        and existing.original_id == (original.pk if original else None)
    )


@transaction.atomic
def do_record_sale(*, data: SaleInput) -> tuple[Transaction, bool]:
    """Record a purchase. Returns (transaction, created); a replay of the same sale returns the first.

    The member row is locked before the sale's row is inserted, the order refunds take too. The
    insert itself tells a replay (same store and external id) from a new sale, so a new sale needs
    no look-up first; a replay for a member frozen since is still answered with the first sale."""
    amount = check_money(data.amount, data.currency)
    data.amount = amount
    occurred_at = check_time(data.occurred_at)
    member = lock_member(data.member.pk)
    txn = _insert_transaction(data, member, occurred_at, TransactionKind.SALE, None)
    if txn is None:  # recorded before, or by a concurrent request that committed first
        return _replay_or_conflict(Transaction.objects.get(store=data.store, external_id=data.external_id), data)
    _check_can_transact(member)
    _record_details(txn, data, member)
    maybe_activate_on_purchase(member, txn)
    with holding(member):
        _run_transaction_hooks(txn)
    return txn, True


def _replay_or_conflict(
    existing: Transaction, data: SaleInput, kind: str = TransactionKind.SALE, original: Transaction | None = None
) -> tuple[Transaction, bool]:
    if _same_sale(existing, data, kind, original):
        return existing, False
    raise Conflict(
        _("Transaction %(id)s of this store was already recorded with different details.") % {"id": data.external_id},
        code=ErrorCode.DUPLICATE_TRANSACTION,
        fields={"external_id": _("already used")},
    )


# What apps above do with a new sale or refund inside the transaction that records it (the ledger
# takes back the points of a refunded sale, earning awards the points of a sale). Registered in
# their AppConfig.ready(); run only when the transaction is new, never on a replay.
# `order` says who goes first (lowest first): the ledger (10), then earning (20), then tiers (30),
# which counts the points the sale has just earned.
_TRANSACTION_HOOKS: list[tuple[int, str, Callable[[Transaction], None]]] = []


def register_transaction_hook(label: str, hook: Callable[[Transaction], None], *, order: int = 50) -> None:
    if all(existing != label for _order, existing, _hook in _TRANSACTION_HOOKS):
        _TRANSACTION_HOOKS.append((order, label, hook))
        _TRANSACTION_HOOKS.sort(key=lambda entry: entry[0])


def _run_transaction_hooks(txn: Transaction) -> None:
    for _order, _label, hook in _TRANSACTION_HOOKS:
        hook(txn)


def _check_can_transact(member: Member) -> None:
    if member.status == MemberStatus.FROZEN:
        raise ValidationFailed(_("This membership is frozen."), code=ErrorCode.MEMBER_FROZEN)
    if member.status not in LIVE_STATUSES:
        raise ValidationFailed(
            _("This membership is %(s)s.") % {"s": member.get_status_display()}, code=ErrorCode.MEMBER_NOT_ACTIVE
        )


def _insert_transaction(
    data: SaleInput, member: Member, occurred_at: dt.datetime, kind: str, original: Transaction | None
) -> Transaction | None:
    """The transaction's row, or None when the store already has one with this external id."""
    txn = Transaction(
        member=member,
        store=data.store,
        kind=kind,
        original=original,
        external_id=data.external_id,
        occurred_at=occurred_at,
        amount=data.amount,
        currency=data.currency,
        channel=data.channel,
        source=data.source,
        created_at=clock.now(),
    )
    return txn if insert_or_nothing(txn, ("store", "external_id")) else None


def _record_details(txn: Transaction, data: SaleInput, member: Member) -> None:
    """A new transaction's lines and timeline row, and its event after commit."""
    lines = TransactionLine.objects.bulk_create(
        TransactionLine(
            transaction=txn, sku=line.sku, category=line.category, quantity=line.quantity, amount=line.amount
        )
        for line in data.lines
    )
    remember_related(txn, "lines", lines)  # the hooks read them (earning's rule engine)
    timeline = transaction_timeline_data(
        transaction_id=txn.pk,
        amount=txn.amount,
        currency=txn.currency,
        store_code=data.store.code,
        external_id=txn.external_id,
    )
    add_timeline(member, txn.kind, **timeline)
    publish(
        events.TransactionRecorded(
            txn.pk,
            member.pk,
            data.store.pk,
            txn.kind,
            txn.amount,
            txn.currency,
            txn.occurred_at,
            txn.original_id,
        )
    )


def transaction_timeline_data(
    *, transaction_id: int, amount: Decimal, currency: str, store_code: str, external_id: str
) -> dict[str, Any]:
    """What a sale or refund puts on the member's timeline. The importer and the demo generator
    write the same shape in bulk, so the member page reads every source alike."""
    return {
        "transaction_id": transaction_id,
        "amount": str(amount),
        "currency": currency,
        "store": store_code,
        "external_id": external_id,
    }


def refunded_so_far(original: Transaction) -> Decimal:
    total = Transaction.objects.filter(original=original, kind=TransactionKind.REFUND).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0")


@transaction.atomic
def do_record_refund(
    *,
    original: Transaction,
    external_id: str,
    amount: Decimal,
    occurred_at: dt.datetime,
    store: Store | None = None,
    lines: Iterable[LineInput] = (),
    source: str = "api",
) -> tuple[Transaction, bool]:
    """Refund all or part of a sale; never more than what is left of it."""
    store = store or original.store
    data = SaleInput(
        store=store,
        member=original.member,
        external_id=external_id,
        occurred_at=occurred_at,
        amount=amount,
        currency=original.currency,
        channel=original.channel,
        lines=list(lines),
        source=source,
    )
    data.amount = check_money(amount, original.currency)
    existing = Transaction.objects.filter(store=store, external_id=external_id).first()
    if existing is not None:
        return _replay_or_conflict(existing, data, TransactionKind.REFUND, original)
    # Lock the sale so two refunds of it cannot both pass the remaining-amount check.
    original = Transaction.objects.select_for_update().get(pk=original.pk)
    if original.kind != TransactionKind.SALE:
        raise ValidationFailed(_("Only a sale can be refunded."), code=ErrorCode.ORIGINAL_NOT_FOUND)
    remaining = original.amount - refunded_so_far(original)
    if data.amount > remaining:
        raise ValidationFailed(
            _("The refund of %(a)s is more than the %(r)s left of the sale.") % {"a": data.amount, "r": remaining},
            code=ErrorCode.REFUND_EXCEEDS_SALE,
            fields={"amount": _("too large")},
        )
    member = lock_member(original.member_id)
    txn = _insert_transaction(data, member, check_time(occurred_at), TransactionKind.REFUND, original)
    if txn is None:
        return _replay_or_conflict(
            Transaction.objects.get(store=store, external_id=external_id), data, TransactionKind.REFUND, original
        )
    _record_details(txn, data, member)
    with holding(member):
        _run_transaction_hooks(txn)
    return txn, True


# --------------------------------------------------------------------------- merge

# Tables whose rows follow the person when two member records are merged. Apps above add theirs
# with `register_merge_target` so a merge never leaves a record behind.
_MERGE_TARGETS: list[tuple[str, Any, str]] = []


def register_merge_target(label: str, model: Any, fk_field: str = "member") -> None:
    if all(existing[0] != label for existing in _MERGE_TARGETS):
        _MERGE_TARGETS.append((label, model, fk_field))


register_merge_target("transactions", Transaction)
register_merge_target("consents", ConsentRecord)
register_merge_target("timeline", TimelineEntry)


@transaction.atomic
def do_merge_members(*, survivor: Member, absorbed: Member, reason: str) -> MemberMerge:
    """Make two records of one person one: every record of `absorbed` moves to `survivor`."""
    if survivor.pk == absorbed.pk:
        raise ValidationFailed(_("Choose two different members."), code=ErrorCode.MERGE_SAME_MEMBER)
    if not reason.strip():
        raise ValidationFailed(
            _("Give a reason for the merge."), code=ErrorCode.REASON_REQUIRED, fields={"reason": _("required")}
        )
    first, second = sorted([survivor.pk, absorbed.pk])  # lock in id order: no deadlock with a reverse merge
    lock_member(first)
    lock_member(second)
    survivor, absorbed = Member.objects.get(pk=survivor.pk), Member.objects.get(pk=absorbed.pk)
    for m in (survivor, absorbed):
        if m.status not in LIVE_STATUSES:
            raise ValidationFailed(_("%(m)s is not a live membership.") % {"m": m}, code=ErrorCode.MERGE_NOT_ALLOWED)
    moved = _move_records(absorbed, survivor)
    moved["tags"] = _move_unique_children(MemberTag, "tag_id", absorbed, survivor)
    moved["attributes"] = _move_unique_children(MemberAttribute, "definition_id", absorbed, survivor)
    # Referees follow the person; the survivor itself (if the absorbed record referred it) keeps
    # its history rather than becoming its own referrer.
    referees = Member.objects.filter(referrer=absorbed).exclude(pk=survivor.pk)
    moved["referees"] = list(referees.values_list("pk", flat=True))
    referees.update(referrer=survivor)
    moved["absorbed_card_no"] = absorbed.card_no
    # What undo puts back: the absorbed record's status as it was (pending, active or frozen).
    moved["absorbed_status"] = absorbed.status
    moved["absorbed_status_reason"] = absorbed.status_reason
    if absorbed.card_no and not survivor.card_no:
        card = absorbed.card_no
        Member.objects.filter(pk=absorbed.pk).update(card_no=None)
        Member.objects.filter(pk=survivor.pk).update(card_no=card)
        moved["card_moved"] = True
    absorbed.refresh_from_db()
    absorbed.merged_into = survivor
    absorbed.save(update_fields=["merged_into"])
    _set_status(absorbed, MemberStatus.MERGED, reason.strip(), action="member.merged_away")
    merge = MemberMerge.objects.create(
        survivor=survivor,
        absorbed=absorbed,
        moved=moved,
        reason=reason.strip(),
        merged_at=clock.now(),
        merged_by=current_actor().label[:150],
    )
    add_timeline(survivor, "merged", absorbed=absorbed.member_no, merge_id=merge.pk)
    record_audit(
        "member.merge",
        obj=survivor,
        after={"absorbed": absorbed.member_no, "merge_id": merge.pk},
        reason=reason.strip(),
    )
    publish(events.MembersMerged(survivor.pk, absorbed.pk, merge.pk))
    return merge


def _move_records(source: Member, target: Member) -> dict[str, Any]:
    moved: dict[str, Any] = {}
    for label, model, fk in _MERGE_TARGETS:
        rows = model.objects.filter(**{fk: source})
        moved[label] = list(rows.values_list("pk", flat=True))
        rows.update(**{fk: target})
    return moved


def _move_unique_children(model: Any, key: str, source: Member, target: Member) -> list[int]:
    """Move rows unique per (member, key); where the survivor already has one, keep the survivor's."""
    have = set(model.objects.filter(member=target).values_list(key, flat=True))
    movable = model.objects.filter(member=source).exclude(**{f"{key}__in": have})
    ids = list(movable.values_list("pk", flat=True))
    model.objects.filter(pk__in=ids).update(member=target)
    return ids


@transaction.atomic
def do_undo_merge(*, merge: MemberMerge, reason: str) -> MemberMerge:
    """Put back what a merge moved, within the undo window."""
    merge = MemberMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationFailed(_("This merge was already undone."), code=ErrorCode.ALREADY_UNDONE)
    if clock.now() - merge.merged_at > dt.timedelta(days=settings.PATRON["MERGE_UNDO_DAYS"]):
        raise ValidationFailed(
            _("Merges can be undone for %(d)s days only.") % {"d": settings.PATRON["MERGE_UNDO_DAYS"]},
            code=ErrorCode.UNDO_EXPIRED,
        )
    survivor, absorbed = merge.survivor, merge.absorbed
    lock_member(min(survivor.pk, absorbed.pk))
    lock_member(max(survivor.pk, absorbed.pk))
    _check_phone_free(absorbed.phone, exclude=absorbed)
    for label, model, fk in _MERGE_TARGETS:
        model.objects.filter(pk__in=merge.moved.get(label, [])).update(**{fk: absorbed})
    MemberTag.objects.filter(pk__in=merge.moved.get("tags", [])).update(member=absorbed)
    MemberAttribute.objects.filter(pk__in=merge.moved.get("attributes", [])).update(member=absorbed)
    Member.objects.filter(pk__in=merge.moved.get("referees", [])).update(referrer=absorbed)
    if merge.moved.get("card_moved"):
        Member.objects.filter(pk=survivor.pk).update(card_no=None)
        Member.objects.filter(pk=absorbed.pk).update(card_no=merge.moved["absorbed_card_no"])
    absorbed.refresh_from_db()
    absorbed.merged_into = None
    absorbed.save(update_fields=["merged_into"])
    prior = merge.moved.get("absorbed_status", MemberStatus.ACTIVE)
    _set_status(absorbed, MemberStatus(prior), reason or _("Merge undone"), action="member.unmerge")
    if "absorbed_status_reason" in merge.moved:
        absorbed.status_reason = merge.moved["absorbed_status_reason"]
        absorbed.save(update_fields=["status_reason"])
    merge.undone_at = clock.now()
    merge.undone_by = current_actor().label[:150]
    merge.save(update_fields=["undone_at", "undone_by"])
    add_timeline(survivor, "merge_undone", absorbed=absorbed.member_no, merge_id=merge.pk)
    record_audit(
        "member.unmerge", obj=survivor, after={"absorbed": absorbed.member_no, "merge_id": merge.pk}, reason=reason
    )
    publish(events.MergeUndone(survivor.pk, absorbed.pk, merge.pk))
    return merge
