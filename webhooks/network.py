"""Where webhook deliveries may go: public internet addresses only, unless an operator allows a network.

A researcher registers the URL and the workers POST to it and keep the first 500 characters of the answer
for the researcher to read: without a guard, that is a way to make the workers call the cloud's metadata
service (169.254.169.254), the database's admin port or any other service inside the deployment, and read
what it says (server-side request forgery). So:

- registration refuses a URL whose host is a non-public IP literal in any spelling the resolver takes
  (`10.0.0.5`, `[::1]`, `2130706433`, `0x7f.1`) or `localhost`, with a reason (`url_refusal`);
- delivery resolves the name itself, refuses it when any of its addresses is not public, and connects to
  the address it checked (`guarded_create_connection`), so a name that answers a public address at
  registration and a private one later (DNS rebinding) still cannot reach inside;
- a try ends after WEBHOOK_DEADLINE_S in all (`time_limit`): the socket timeout counts per read, so a receiver
  that answers a byte at a time would otherwise hold a worker of the default queue for as long as it likes;
- redirects are not followed (a 3xx is a failed try: the receiver must answer the URL it registered) and
  no proxy from the environment is used (the check would be on the proxy, not the receiver).

`QEVAL_WEBHOOK_ALLOWED_NETWORKS` (comma-separated CIDRs, e.g. `10.20.0.0/16`) lets a deployment deliver to
its own receivers inside; the tests allow 127.0.0.0/8 for their local receivers.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(OSError):
    """The receiver's address is inside (not a public internet address) and no allowed network holds it."""


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])]


def address_allowed(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if any(address in network for network in allowed_networks()):
        return True
    return address.is_global and not address.is_multicast


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in every form the C resolver takes (inet_aton's `127.1`,
    `2130706433`, `0x7f000001` too), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _not_public(what: str) -> str:
    return (
        f"{what} is not a public internet address: webhooks are delivered to public addresses only "
        "(an operator can allow an inside network with QEVAL_WEBHOOK_ALLOWED_NETWORKS)"
    )


def url_refusal(url: str) -> str | None:
    """Why a URL cannot be registered as a webhook, or None. Names are resolved at delivery, not here (a
    receiver's name may not resolve yet, and what it resolves to may change: delivery checks again)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    named_localhost = host == "localhost" or host.endswith(".localhost")
    address = ipaddress.ip_address("127.0.0.1") if named_localhost else _literal_address(host)
    if address is not None and not address_allowed(address):
        return _not_public(host if named_localhost else str(address))
    return None


def guarded_create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):  # type: ignore[attr-defined]
    """socket.create_connection that resolves the host once, refuses it when any address is not allowed,
    and connects to the addresses it checked (each an IP literal, so nothing is resolved again)."""
    host, port = address
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
        if not address_allowed(ip):
            shown = str(ip) if str(ip) == host else f"{host} ({ip})"
            raise BlockedAddress(_not_public(shown))
    error: OSError | None = None
    for *_, sockaddr in infos:
        try:
            sock = socket.create_connection((str(sockaddr[0]), int(sockaddr[1])), timeout, source_address)
        except OSError as exc:
            error = exc
            continue
        _limit_socket(sock)
        return sock
    raise error or OSError(f"{host} has no address")


class TimeLimit:
    """One try's limit in all; `expired` once it has shut the try's connections."""

    def __init__(self, seconds: float):
        self.seconds, self.expired = seconds, False
        self.timers: list[threading.Timer] = []

    def shut(self, sock: socket.socket) -> None:
        self.expired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once; the opener sees the end
        except OSError:
            pass  # closed already: the try had ended


_current = threading.local()


@contextmanager
def time_limit(seconds: float) -> Iterator[TimeLimit]:
    """Every connection made inside (on this thread) is shut `seconds` after it opened."""
    limit = TimeLimit(seconds)
    _current.limit = limit
    try:
        yield limit
    finally:
        _current.limit = None
        for timer in limit.timers:
            timer.cancel()


def _limit_socket(sock: socket.socket) -> None:
    limit = getattr(_current, "limit", None)
    if limit is not None:
        timer = threading.Timer(limit.seconds, limit.shut, (sock,))
        timer.daemon = True
        timer.start()
        limit.timers.append(timer)


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = guarded_create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    # The TLS layer still checks the certificate against the host name: only the TCP connect is ours.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = guarded_create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx comes back as an HTTPError: a failed try, with its status on record


def opener() -> urllib.request.OpenerDirector:
    """An opener for deliveries: guarded connections, no redirects, no proxy from the environment."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _HTTPHandler, _HTTPSHandler, _NoRedirects)
