"""New items entered a campaign (an import, a generation job, an approved generated output): the apps
that act on new items are told, in the creating transaction (they enqueue their work on commit).

The listeners are named in settings (QEVAL_ITEMS_CREATED_HOOKS: dotted paths of functions
`hook(*, campaign_id, item_ids)`), so annotation never imports the apps built on it (training screens
new items with a scorer: training/services/screening.py)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def items_created(*, campaign, item_ids) -> None:
    ids = [int(i) for i in item_ids]
    if not ids:
        return
    for path in settings.QEVAL_ITEMS_CREATED_HOOKS:
        import_string(path)(campaign_id=campaign.pk, item_ids=ids)
