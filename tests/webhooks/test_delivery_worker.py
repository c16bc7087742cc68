"""Webhooks delivered by a real Celery worker to a real HTTP server on this machine: signed, retried with
backoff after a failure, logged with status and response time, replayable, and given up after the last try."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from annotation.models import Batch
from annotation.services.scrutiny import batch_admin_decide
from tests.celery_worker import wait_for
from webhooks.models import Delivery
from webhooks.services import endpoint_create, signature_verify

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


class Receiver:
    """A local endpoint: records every request; answers with the next status of `statuses` (then 200)."""

    def __init__(self, statuses=()):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": self.headers, "body": body, "at": time.monotonic()})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def _make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield _make
    for r in made:
        r.close()


def _decided_batch(campaign, make_user):
    from tests.factories import ItemFactory

    annotator = make_user("annotator")
    batch = Batch.objects.create(campaign=campaign, annotator=annotator, status="closed", decision="needs_review")
    from annotation.models import Rating

    Rating.objects.create(annotator=annotator, item=ItemFactory(campaign=campaign), batch=batch, quality=3, alignment=3)
    return batch


def test_a_decision_reaches_the_receiver_signed_after_a_retry(celery_worker, campaign, make_user, receiver, client_as):
    hook = receiver(statuses=[500])
    endpoint, secret = endpoint_create(campaign=campaign, url=hook.url, events=["batch.decided"])
    batch = _decided_batch(campaign, make_user)
    batch_admin_decide(batch_id=batch.pk, decision="approve", reason="", user=make_user("admin"))

    delivery = wait_for(lambda: Delivery.objects.filter(status="succeeded").first(), timeout=60, what="delivered")
    assert len(hook.requests) == 2 and delivery.attempts == 2
    assert (delivery.response_status, delivery.response_body) == (200, "ok") and delivery.response_ms is not None
    first, second = hook.requests
    assert second["at"] - first["at"] >= 0.4  # waited WEBHOOK_BACKOFF_S (0.5 s in tests) before trying again
    for req in hook.requests:
        h = req["headers"]
        assert h["X-QEval-Event"] == "batch.decided" and h["X-QEval-Delivery"] == str(delivery.uid)
        assert signature_verify(
            secret=secret, timestamp=h["X-QEval-Timestamp"], body=req["body"], header=h["X-QEval-Signature"]
        )
    body = json.loads(second["body"])
    assert body["event"] == "batch.decided" and body["data"]["batch"] == batch.pk
    assert body["data"]["decision"] == "approved" and body["campaign"] == campaign.slug

    client, _ = client_as("researcher")
    replay = client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay/")
    assert replay.status_code == 202
    again = wait_for(
        lambda: Delivery.objects.filter(replay_of=delivery, status="succeeded").first(), timeout=60, what="replayed"
    )
    assert len(hook.requests) == 3 and json.loads(hook.requests[2]["body"])["replay_of"] == str(delivery.uid)
    assert again.uid != delivery.uid


def test_a_receiver_that_keeps_failing_is_given_up_on(celery_worker, campaign, make_user, receiver):
    hook = receiver(statuses=[503, 503, 503, 503])
    endpoint_create(campaign=campaign, url=hook.url, events=["batch.decided"])
    batch = _decided_batch(campaign, make_user)
    batch_admin_decide(batch_id=batch.pk, decision="reject", reason="copied answers", user=make_user("admin"))
    delivery = wait_for(lambda: Delivery.objects.filter(status="failed").first(), timeout=60, what="given up")
    assert delivery.attempts == 3 == len(hook.requests)  # WEBHOOK_MAX_ATTEMPTS in tests
    assert delivery.response_status == 503 and delivery.error == "HTTP 503"


def test_an_unreachable_receiver_is_logged_with_the_reason(celery_worker, campaign, make_user):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint_create(campaign=campaign, url=f"http://127.0.0.1:{port}/gone", events=["batch.decided"])
    batch = _decided_batch(campaign, make_user)
    batch_admin_decide(batch_id=batch.pk, decision="approve", reason="", user=make_user("admin"))
    delivery = wait_for(lambda: Delivery.objects.filter(status="failed").first(), timeout=60, what="given up")
    assert delivery.response_status is None and "refused" in delivery.error.lower()
