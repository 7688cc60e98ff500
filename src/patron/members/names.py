"""Search keys for names: pinyin in full and by initials, so 张伟 is found by "zhangwei" or "zw"."""

from __future__ import annotations

import re

from pypinyin import lazy_pinyin

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def pinyin_keys(name: str) -> tuple[str, str]:
    """(full, initials), lowercase ASCII. Latin names give their letters and word initials."""
    # Characters without pinyin (Latin letters, digits) pass through as they are.
    syllables = [s.lower() for s in lazy_pinyin(name or "", errors="default")]
    words = [w for s in syllables for w in _NON_ALNUM.split(s) if w]
    full = "".join(words)[:200]
    initials = "".join(w[0] for w in words)[:50]
    return full, initials


def is_latin_query(text: str) -> bool:
    return bool(text) and all(c.isascii() and (c.isalpha() or c == " ") for c in text)
