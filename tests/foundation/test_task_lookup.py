"""core.queue.task_named: the task modules are loaded once per process. Celery's Django fix-up runs all of
Django's system checks whenever the loader's `import_modules` signal is sent, so a lookup that sent it each
time cost every published message (a closing batch's scrutiny, from a web process) ~20 ms of CPU."""

from __future__ import annotations

from celery import signals

from core.queue import task_named


def test_task_lookup_loads_the_task_modules_once_and_never_again():
    task_named("annotation.expire_leases")  # the first lookup of the process (or an earlier test's) loads them
    sent = []

    def count(sender=None, **kwargs):
        sent.append(sender)

    signals.import_modules.connect(count, weak=False)
    try:
        tasks = [task_named("annotation.expire_leases") for _ in range(5)] + [task_named("annotation.outbox_relay")]
    finally:
        signals.import_modules.disconnect(count)
    assert sent == [], "a task lookup sent import_modules again (Django's system checks ran again)"
    assert {t.name for t in tasks} == {"annotation.expire_leases", "annotation.outbox_relay"}
