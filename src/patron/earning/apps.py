from typing import Any

from django.apps import AppConfig


def _activity_sentence(data: dict[str, Any]) -> str:
    from django.utils.translation import gettext as _

    from patron.earning import activities

    spec = activities.current().activities.get(data.get("activity", ""))
    label = spec.display if spec is not None else data.get("label", "")
    if data.get("bonus_points"):
        return _("%(label)s: %(p)s points, including a %(b)s-point bonus for %(n)s days in a row.") % {
            "label": label,
            "p": data.get("points", ""),
            "b": data["bonus_points"],
            "n": data.get("streak", ""),
        }
    return _("%(label)s: %(p)s points.") % {"label": label, "p": data.get("points", "")}


class EarningConfig(AppConfig):
    name = "patron.earning"
    label = "earning"
    verbose_name = "Earning rules"

    def ready(self) -> None:
        from patron.earning import pos
        from patron.members import services as member_services
        from patron.members.queries import register_timeline_sentence

        # Every new sale earns its points in the transaction that records it.
        member_services.register_transaction_hook("earning.sale", pos.earn_on_sale, order=20)
        register_timeline_sentence("activity_awarded", _activity_sentence)
