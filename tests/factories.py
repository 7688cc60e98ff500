"""Factories per aggregate. Members are made through the service, so tests see real invariants."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from patron.core import clock
from patron.core.permissions import Role
from patron.members import services
from patron.members.models import Member, Store

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def phone_number() -> str:
    """A valid, unique Chinese mobile number."""
    return f"+86139{next(_seq):08d}"


def make_store(code: str | None = None, city: str = "上海", **kw: Any) -> Store:
    n = next(_seq)
    return services.do_create_store(code=code or f"S{n:04d}", name=kw.pop("name", f"门店{n}"), city=city, **kw)


def make_staff(role: Role | str, store: Store | None = None, username: str | None = None) -> Any:
    role = Role(role)
    if role == Role.CASHIER and store is None:
        store = make_store()
    return services.do_create_staff(
        username=username or f"{role}{next(_seq)}",
        password=PASSWORD,
        role=role,
        store=store,
        display_name=f"{role} user",
    )


def make_member(name: str = "张伟", phone: str | None = None, **kw: Any) -> Member:
    data = services.NewMember(name=name, phone=phone or phone_number(), **kw)
    return services.do_create_member(data=data)


def make_sale(
    member: Member,
    store: Store,
    amount: str = "100.00",
    external_id: str | None = None,
    occurred_at: dt.datetime | None = None,
    **kw: Any,
):
    txn, _created = services.do_record_sale(
        data=services.SaleInput(
            store=store,
            member=member,
            external_id=external_id or f"T{next(_seq)}",
            occurred_at=occurred_at or clock.now(),
            amount=Decimal(amount),
            currency=kw.pop("currency", "CNY"),
            **kw,
        )
    )
    return txn
