"""The reader's language, for data that carries its own English next to the Chinese (a store's
`name_en`, an activity's `label_en`)."""

from __future__ import annotations

from django.utils.translation import get_language


def english() -> bool:
    return (get_language() or "").startswith("en")


def in_reader_language(chinese: str, english_text: str) -> str:
    """The English text when the reader reads English and there is one, else the Chinese."""
    return english_text if english_text and english() else chinese
