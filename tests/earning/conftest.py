"""Earning caches rules and the activity program in the process; tests roll back the rows."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_earning_caches():
    from patron.earning import activities, services

    services.forget_rules()
    activities.forget()
    yield
    services.forget_rules()
    activities.forget()
