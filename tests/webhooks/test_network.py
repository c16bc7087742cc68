"""Webhooks cannot be pointed inside the deployment (server-side request forgery): registration refuses
non-public addresses in every spelling, delivery checks the address the name resolves to and connects to
that one, redirects are not followed, no proxy from the environment is used. Real HTTP servers on
127.0.0.1; the guard's allowed networks are set per test (the suite's settings allow 127.0.0.0/8)."""

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import InvalidInput
from webhooks.models import Delivery, Endpoint
from webhooks.services import delivery_attempt, endpoint_create, endpoint_update

pytestmark = pytest.mark.django_db

INSIDE = (
    "http://127.0.0.1/hook",
    "http://127.1:8000/hook",  # inet_aton's short form
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://0x7f000001/hook",
    "http://10.0.0.5/hook",
    "http://192.168.1.1/hook",
    "http://172.16.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",  # IPv4 inside IPv6
    "http://[fd00::1]/hook",
    "http://localhost:8000/hook",
    "http://api.localhost/hook",
    "http://LOCALHOST./hook",
)


class Receiver:
    """A local HTTP server: counts requests; answers `status` with `headers`."""

    def __init__(self, status=200, headers=(), body=None):
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body if body is not None else b"secret inside" if status == 200 else b"moved")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receivers():
    made = []

    def _make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield _make
    for r in made:
        r.server.shutdown()


def _delivery(campaign, url):
    """A pending delivery to `url`, stored as an endpoint registered before the guard would have been."""
    endpoint = Endpoint.objects.create(campaign=campaign, url=url, events=["version.ready"], secret="whsec_x")
    return Delivery.objects.create(endpoint=endpoint, event="version.ready", payload={"event": "version.ready"})


@pytest.mark.parametrize("url", INSIDE)
def test_registration_refuses_an_inside_address_with_a_reason(campaign, settings, url):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(InvalidInput, match="not a public internet address.*QEVAL_WEBHOOK_ALLOWED_NETWORKS"):
        endpoint_create(campaign=campaign, url=url, events=["version.ready"])
    assert not Endpoint.objects.exists()


def test_public_addresses_and_names_are_taken_and_an_allowed_network_opens_inside(campaign, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    for url in ("https://hooks.example.org/in", "http://93.184.216.34/in", "https://[2606:4700::1111]/in"):
        assert endpoint_create(campaign=campaign, url=url, events=["version.ready"])[0].url == url
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16", "127.0.0.0/8"]
    endpoint_create(campaign=campaign, url="http://10.20.3.4/in", events=["version.ready"])
    endpoint_create(campaign=campaign, url="http://localhost:9000/in", events=["version.ready"])
    with pytest.raises(InvalidInput, match="10.21.0.1 is not a public"):
        endpoint_create(campaign=campaign, url="http://10.21.0.1/in", events=["version.ready"])
    assert Endpoint.objects.count() == 5


def test_changing_an_endpoint_to_an_inside_address_is_refused_and_changes_nothing(campaign, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    endpoint, _ = endpoint_create(campaign=campaign, url="https://hooks.example.org/in", events=["version.ready"])
    with pytest.raises(InvalidInput, match="169.254.169.254 is not a public"):
        endpoint_update(endpoint=endpoint, url="http://169.254.169.254/")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.org/in"


def test_the_api_answers_400_with_the_reason(campaign, client_as, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    client, _ = client_as("researcher")
    response = client.post(
        f"/api/v1/campaigns/{campaign.slug}/webhooks/",
        {"url": "http://169.254.169.254/latest/meta-data/", "events": ["version.ready"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("169.254.169.254 is not a public internet address")
    assert not Endpoint.objects.exists()


def test_delivery_to_an_inside_address_is_not_made_and_given_up_at_once(campaign, settings, receivers):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    hook = receivers()
    delivery = delivery_attempt(delivery_id=_delivery(campaign, hook.url).pk)
    assert hook.requests == 0
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.error.startswith("127.0.0.1 is not a public internet address")
    assert delivery.response_body == "" and delivery.response_status is None


def test_delivery_checks_the_address_a_name_resolves_to(campaign, settings, receivers):
    """A name is checked where it leads at the time of delivery (a registered name could be re-pointed)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    hook = receivers()
    delivery = delivery_attempt(delivery_id=_delivery(campaign, f"http://localhost:{hook.port}/hook").pk)
    assert hook.requests == 0 and delivery.status == "failed"
    assert "localhost (127.0.0.1) is not a public internet address" in delivery.error


def test_an_allowed_network_is_delivered_to(campaign, settings, receivers):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = receivers()
    delivery = delivery_attempt(delivery_id=_delivery(campaign, f"http://localhost:{hook.port}/hook").pk)
    assert hook.requests == 1 and (delivery.status, delivery.response_body) == ("succeeded", "secret inside")


def test_a_redirect_is_not_followed(campaign, settings, receivers):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    target = receivers()
    hook = receivers(status=302, headers=[("Location", target.url)])
    delivery = delivery_attempt(delivery_id=_delivery(campaign, hook.url).pk)
    assert (hook.requests, target.requests) == (1, 0)
    assert delivery.response_status == 302 and delivery.error == "HTTP 302: redirects are not followed"
    assert delivery.status == "pending" and delivery.next_attempt_at is not None  # a receiver may fix its answer


def test_no_proxy_from_the_environment_is_used(campaign, settings, receivers, monkeypatch):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there: a proxied request would fail
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    hook = receivers()
    delivery = delivery_attempt(delivery_id=_delivery(campaign, hook.url).pk)
    assert hook.requests == 1 and delivery.status == "succeeded"


def test_a_bad_allowed_network_stops_the_settings_with_one_line():
    env = {**os.environ, "QEVAL_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/8, not-a-network"}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "QEVAL_WEBHOOK_ALLOWED_NETWORKS: 'not-a-network' does not appear to be an IPv4 or IPv6 network" in (
        result.stderr
    )


def test_a_receiver_answering_a_nul_character_is_recorded_not_retried_forever(campaign, settings, receivers):
    """PostgreSQL stores no NUL in text: the answer is kept with the NUL replaced, so the outcome is saved."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = receivers(body=b"ok\x00then")
    delivery = delivery_attempt(delivery_id=_delivery(campaign, hook.url).pk)
    assert (delivery.status, delivery.response_body) == ("succeeded", "ok\ufffdthen")


def test_a_receiver_answering_a_byte_at_a_time_is_cut_at_the_deadline(campaign, settings):
    """The socket timeout counts per read: a receiver that trickles its answer would hold a worker of the default
    queue as long as it liked. The try is cut at WEBHOOK_DEADLINE_S and tried again later."""
    import time as clock

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_TIMEOUT_S, settings.WEBHOOK_DEADLINE_S = 1.0, 1.5
    state = {"bytes": 0, "done": False}

    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            try:
                for _ in range(100):  # 20 s of header, a byte each 0.2 s: each read well inside the timeout
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    state["bytes"] += 1
                    clock.sleep(0.2)
                self.wfile.write(b"\r\n\r\n")
                state["done"] = True
            except OSError:
                pass  # cut by the platform

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        delivery = delivery_attempt(delivery_id=_delivery(campaign, f"http://127.0.0.1:{server.server_port}/hook").pk)
    finally:
        server.shutdown()
    assert not state["done"] and state["bytes"] > 0  # it was sending, and the try ended first
    assert delivery.error == "no complete answer within 1.5 s (WEBHOOK_DEADLINE_S): the try was cut"
    assert (delivery.status, delivery.response_status) == ("pending", None) and delivery.next_attempt_at is not None
