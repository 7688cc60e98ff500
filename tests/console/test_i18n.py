"""The console speaks Chinese by default and English on request."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from patron.core.errors import ValidationFailed
from patron.members.phones import normalize_phone

pytestmark = pytest.mark.django_db


@override_settings(LANGUAGE_CODE="zh-hans")
def test_dashboard_is_chinese_without_a_language_choice(client, staff):
    client.force_login(staff("agent"))
    response = client.get(reverse("console:dashboard"), HTTP_ACCEPT_LANGUAGE="")
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "仪表盘" in body or "看板" in body or "概览" in body


@override_settings(LANGUAGE_CODE="zh-hans")
def test_browser_asking_for_english_gets_english(client, staff):
    client.force_login(staff("agent"))
    response = client.get(reverse("console:dashboard"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Dashboard" in response.content.decode()


def test_service_errors_are_translated():
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as chinese:
        normalize_phone("12345")
    with translation.override("en"), pytest.raises(ValidationFailed) as english:
        normalize_phone("12345")
    assert "not a valid phone number" in english.value.message
    assert chinese.value.message != english.value.message
