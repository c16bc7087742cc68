"""`manage.py outbox_relay`: publish the task messages the broker could not take (beat does this every
OUTBOX_RELAY_EVERY_S; this is for operators after an outage). Exit 1 when messages still wait."""

from __future__ import annotations

from django.core.management.base import CommandError

from core.management.base import ServiceCommand

from ...services.outbox import outbox_relay


class Command(ServiceCommand):
    help = "Publish waiting outbox messages to the broker."

    def handle(self, *args, **options):
        result = outbox_relay()
        self.stdout.write(
            f"{result['sent']} sent, {result['waiting']} waiting, {result['pruned']} old sent messages forgotten"
        )
        if result["waiting"]:
            raise CommandError(f"{result['waiting']} messages still wait: the broker is not reachable")
