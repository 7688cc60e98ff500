"""Reward categories of the points mall."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from patron.core.audit import record_audit
from patron.rewards.errors import ErrorCode
from patron.rewards.models import RewardCategory
from patron.rewards.services.common import refuse


@transaction.atomic
def do_save_category(
    *, code: str, name: str, name_en: str = "", position: int = 0, category: RewardCategory | None = None
) -> RewardCategory:
    """Create a category, or edit `category` (its code stays)."""
    if not name.strip():
        raise refuse(ErrorCode.INVALID_REWARD, _("A category needs a name."), name=_("required"))
    if category is None:
        if RewardCategory.objects.filter(code=code).exists():
            raise refuse(ErrorCode.INVALID_REWARD, _("A category with this code exists."), code=_("taken"))
        category = RewardCategory(code=code)
    category.name, category.name_en, category.position = name.strip(), name_en.strip(), position
    category.save()
    record_audit("rewards.category", obj=category, after={"code": category.code, "name": category.name})
    return category
