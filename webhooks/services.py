"""Webhooks: register endpoints per campaign, announce events, deliver them signed, retry, replay.

Every delivery is a POST of JSON

    {"id": "<delivery uuid>", "event": "batch.decided", "created_at": "...", "campaign": "demo", "data": {...}}

with the headers

    X-QEval-Event: batch.decided
    X-QEval-Delivery: <delivery uuid>       (the same on every retry: receivers can drop repeats)
    X-QEval-Timestamp: <unix seconds of this attempt>
    X-QEval-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

so a receiver recomputes the HMAC over the timestamp and the raw body with its secret, compares in constant
time, and refuses old timestamps (replays of a captured request). The secret is shown once, when the
endpoint is created or its secret rotated.

Delivery runs on the workers (webhooks.deliver, default queue): a 2xx answer is success; anything else
(an error status, a timeout, no connection) is retried with exponential backoff (WEBHOOK_BACKOFF_S,
doubling) up to WEBHOOK_MAX_ATTEMPTS, then the delivery is marked failed. Each attempt records its status
and response time. A replay sends the same body again as a new delivery (a new id).

Announcing an event (`event_emit`) happens inside the transaction that made it true; deliveries are
enqueued when it commits, so nobody hears of a batch decision that was rolled back.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.queue import task_named

from .models import Delivery, Endpoint, Event
from .network import BlockedAddress, opener, time_limit, url_refusal

SECRET_PREFIX = "whsec_"
USER_AGENT = "qeval-webhooks/1"
MAX_ENDPOINTS_PER_CAMPAIGN = 20


def _setting(name: str, default):
    return getattr(settings, name, default)


# ------------------------------------------------------------------------------------------ endpoints


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("the URL must start with http:// or https:// and name a host")
    if len(url) > (Endpoint._meta.get_field("url").max_length or 500):
        raise InvalidInput("the URL is too long (at most 500 characters)")
    refusal = url_refusal(url)
    if refusal:
        raise InvalidInput(refusal)
    return url


def _clean_events(events) -> list[str]:
    if isinstance(events, str):
        events = [events]
    events = [e for e in (events or []) if e]
    unknown = sorted(set(events) - set(Event.values))
    if unknown:
        raise InvalidInput(f"unknown event {', '.join(unknown)}: choose from {', '.join(Event.values)}")
    if not events:
        raise InvalidInput("choose at least one event")
    return [e for e in Event.values if e in events]  # one order everywhere


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def endpoint_create(*, campaign, url: str, events, description: str = "", user=None) -> tuple[Endpoint, str]:
    """Register an endpoint; returns it and its secret (shown to the person once, never again)."""
    url, events = _clean_url(url), _clean_events(events)
    if Endpoint.objects.filter(campaign=campaign).count() >= MAX_ENDPOINTS_PER_CAMPAIGN:
        raise InvalidInput(f"a campaign has at most {MAX_ENDPOINTS_PER_CAMPAIGN} endpoints: remove one first")
    secret = new_secret()
    endpoint = Endpoint.objects.create(
        campaign=campaign,
        url=url,
        events=events,
        secret=secret,
        description=(description or "").strip()[:200],
        created_by=user,
    )
    return endpoint, secret


def endpoint_get(*, endpoint_id, campaign=None) -> Endpoint:
    qs = Endpoint.objects.select_related("campaign")
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    try:
        endpoint = qs.filter(pk=int(endpoint_id)).first()
    except (TypeError, ValueError):
        endpoint = None
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str | None = None,
    events=None,
    is_active: bool | None = None,
    description: str | None = None,
) -> Endpoint:
    if url is not None:
        endpoint.url = _clean_url(url)
    if events is not None:
        endpoint.events = _clean_events(events)
    if is_active is not None:
        endpoint.is_active = bool(is_active)
    if description is not None:
        endpoint.description = description.strip()[:200]
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: Endpoint) -> str:
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def endpoint_delete(*, endpoint: Endpoint) -> None:
    endpoint.delete()


# --------------------------------------------------------------------------------------------- events


def event_emit(*, event: str, campaign, data: dict) -> list[int]:
    """Announce `event` of `campaign` to its active endpoints that take it: one Delivery each, sent by the
    workers after the surrounding transaction commits. Returns the delivery ids. Never raises for a
    broker that is down (the deliveries stay pending; `deliveries_resend_due` picks them up)."""
    if event not in Event.values:
        raise ValueError(f"unknown webhook event {event!r}")
    endpoints = [e for e in Endpoint.objects.filter(campaign_id=campaign.pk, is_active=True) if event in e.events]
    if not endpoints:
        return []
    now = timezone.now()
    ids = []
    for endpoint in endpoints:
        delivery = Delivery(endpoint=endpoint, event=event, next_attempt_at=now)
        delivery.payload = {
            "id": str(delivery.uid),
            "event": event,
            "created_at": now.isoformat(),
            "campaign": campaign.slug,
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        }
        delivery.save()
        ids.append(delivery.pk)
    _enqueue_on_commit(ids)
    return ids


def _enqueue_on_commit(ids: list[int], countdown: float = 0) -> None:
    def send():
        deliver = task_named("webhooks.deliver")  # by name: services never import the tasks module
        for pk in ids:
            deliver.apply_async((pk,), countdown=countdown or None)

    transaction.on_commit(send, robust=True)


# ------------------------------------------------------------------------------------------ delivery


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """ "sha256=" + hex HMAC-SHA256 of "<timestamp>.<body>" under the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_verify(
    *, secret: str, timestamp: int | str, body: bytes, header: str, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (kept here for tests and as a reference implementation)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret=secret, timestamp=ts, body=body), header or "")


def backoff_s(attempt: int) -> float:
    """Seconds before the next try after `attempt` failed ones: base, 2x base, 4x base ..."""
    return float(_setting("WEBHOOK_BACKOFF_S", 10.0)) * 2 ** max(attempt - 1, 0)


def delivery_attempt(*, delivery_id: int) -> Delivery:
    """One try of a pending delivery (the worker's body). Records the outcome; schedules the next try or
    gives up. A delivery that is no longer pending is left alone (a repeated task changes nothing)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:  # done, given up, or another worker is sending it right now
            return Delivery.objects.get(pk=delivery_id)
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-QEval-Event": delivery.event,
            "X-QEval-Delivery": str(delivery.uid),
            "X-QEval-Timestamp": str(timestamp),
            "X-QEval-Signature": signature(secret=endpoint.secret, timestamp=timestamp, body=body),
        },
    )
    status, text, error, blocked = None, "", "", False
    started = time.perf_counter()
    deadline_s = float(_setting("WEBHOOK_DEADLINE_S", 15.0))
    with time_limit(deadline_s) as limit:
        try:
            with opener().open(request, timeout=float(_setting("WEBHOOK_TIMEOUT_S", 5.0))) as response:
                status, text = response.status, response.read(500).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read(500).decode("utf-8", "replace") if exc.fp else ""
            error = f"HTTP {exc.code}" + (": redirects are not followed" if 300 <= exc.code < 400 else "")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            blocked = isinstance(reason, BlockedAddress)  # trying again would not change the address: give up now
            error = str(reason)[:500] or exc.__class__.__name__
    if limit.expired:  # cut mid-answer: what was read may look whole (headers end at the cut), but it is not
        status, text = None, ""
        error = f"no complete answer within {deadline_s:g} s (WEBHOOK_DEADLINE_S): the try was cut"
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    # The receiver's words are stored as text: a NUL in them (PostgreSQL stores none) would fail every save of
    # this outcome and leave the delivery pending, sent again each minute past its last try.
    text, error = text.replace("\x00", "\ufffd"), error.replace("\x00", "\ufffd")
    fields = {"response_status": status, "response_ms": elapsed_ms, "response_body": text[:500], "error": error[:500]}
    if ok:
        fields.update(status=Delivery.Status.SUCCEEDED, delivered_at=timezone.now(), next_attempt_at=None)
    elif blocked or delivery.attempts >= int(_setting("WEBHOOK_MAX_ATTEMPTS", 6)):
        fields.update(status=Delivery.Status.FAILED, next_attempt_at=None)
    else:
        wait = backoff_s(delivery.attempts)
        fields.update(next_attempt_at=timezone.now() + timedelta(seconds=wait))
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        if fields.get("next_attempt_at"):
            _enqueue_on_commit([delivery.pk], countdown=wait)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send a delivery's event again, as a new delivery (a new id; the same data) to the same endpoint."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        raise InvalidInput("the endpoint is switched off: switch it on to replay to it")
    again = Delivery(endpoint=endpoint, event=delivery.event, replay_of=delivery, next_attempt_at=timezone.now())
    again.payload = {**delivery.payload, "id": str(again.uid), "replay_of": delivery.payload.get("id")}
    again.save()
    _enqueue_on_commit([again.pk])
    return again


def delivery_get(*, delivery_id, campaign=None) -> Delivery:
    qs = Delivery.objects.select_related("endpoint__campaign")
    if campaign is not None:
        qs = qs.filter(endpoint__campaign=campaign)
    try:
        delivery = qs.filter(pk=int(delivery_id)).first()
    except (TypeError, ValueError):
        delivery = None
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    return delivery


def deliveries_resend_due(*, now=None, limit: int = 500) -> int:
    """Enqueue pending deliveries whose time has come but whose task was lost (a broker that was down, a
    worker killed between tries). Run every minute by beat; harmless when nothing is due."""
    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now - timedelta(seconds=60))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue_on_commit(ids)
    return len(ids)
