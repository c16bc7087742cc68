"""Real-browser test helpers: Playwright (the PyPI `playwright` package) driving Debian's Chromium.

Use them from any test folder (tests/conftest.py imports the fixtures):

    import pytest
    from tests.browser import login

    @pytest.mark.browser
    @pytest.mark.django_db(transaction=True)   # live_server needs committed data
    def test_something(page, live_server, make_user):
        user = make_user("annotator")
        login(page, live_server, user.username, "pass-word-1")
        page.goto(live_server.url + "/campaigns/x/")
        page.keyboard.press("1")

Why it is built this way:
- `playwright install` cannot download a browser on these machines, so we launch the system Chromium
  (`apt-get install chromium` gives /usr/bin/chromium). A missing binary FAILS the test with that
  hint: a browser test that silently skips would hide a broken page.
- pytest-django's `live_server` is transactional (data is truncated after each test, not rolled back),
  serves static files, and runs Django in its own thread; the test and the browser talk to it over HTTP.
- Playwright's sync API runs an asyncio event loop in the test's thread. Django sees that running
  loop and refuses ORM calls from the same thread ("SynchronousOnlyOperation: You cannot call this
  from an async context") - which breaks the ordinary pattern of creating data, driving the page,
  then asserting on the database. The `browser` fixture therefore sets DJANGO_ALLOW_ASYNC_UNSAFE=true
  while the browser lives (restored after). Checked: without it, the ORM calls in the test AND
  pytest-django's own database flush after a live_server test fail. It is safe here because the sync
  API never runs our ORM code inside the loop concurrently: the test thread is blocked while
  Playwright works. The live server's thread has no event loop and is unaffected.
- `--disable-quic`, `--disable-background-networking` etc. keep Chromium from reaching out to the
  network (nothing outside is reachable here, and timeouts would slow tests down).
- Waiting for the server/database from the test: use `wait_until(page, predicate)` below, never
  time.sleep(): Playwright only runs its handlers (page.route, page.on) while the test thread is inside
  a Playwright call, so a sleeping test thread stalls a routed request.
- Timeouts: actions, navigation and `expect(...)` wait up to 20 s (DEFAULT_TIMEOUT_MS): the test
  machines are shared and often loaded; a passing test does not wait longer for it.
- Each test gets a fresh browser context (cookies, storage, routes), viewport 1280x800 by default.
  Ask for another size with `new_page(browser, width=820, height=1180)`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("QEVAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEFAULT_TIMEOUT_MS = 20_000  # generous: these machines are shared and often heavily loaded
PASSWORD = "pass-word-1"  # tests.factories.UserFactory's password


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Browser tests need Chromium at {CHROMIUM}: run `apt-get install -y chromium` "
            "(or set QEVAL_CHROMIUM to its path). Playwright cannot download its own browser here."
        )
    # Playwright's sync API keeps an event loop in this thread; let the test keep using the ORM
    # (set for as long as the browser lives, restored after).
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions (Playwright's default is 5 s).
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def new_page(browser, *, width: int = 1280, height: int = 800, **context_kwargs):
    """A page in a fresh context (its own cookies). Close it with `page.context.close()`."""
    context = browser.new_context(viewport={"width": width, "height": height}, **context_kwargs)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test (1280x800). Console errors are kept on
    `page.console_errors` so a test can assert the page ran without JavaScript errors."""
    pg = new_page(browser)
    # No favicon: keep its 404 out of the console so `console_errors` only holds real errors.
    pg.context.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    pg.console_errors = []
    pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.console_errors.append(str(exc)))
    in_flight = track_in_flight(pg)
    try:
        yield pg
    finally:
        close_when_idle(pg, in_flight)


def track_in_flight(pg) -> set:
    """The page's requests sent and not yet answered (or failed), kept up to date by Playwright's events."""
    in_flight: set = set()
    pg.on("request", lambda req: in_flight.add(req))
    pg.on("requestfinished", lambda req: in_flight.discard(req))
    pg.on("requestfailed", lambda req: in_flight.discard(req))
    return in_flight


def close_when_idle(pg, in_flight: set, timeout_s: float = 10.0) -> None:
    """Close the page's context once none of its requests is in flight. A request the page sent after the
    test's last assertion (the next item, a media file) would otherwise still be in the live server's hands
    while the test's teardown truncates the tables: PostgreSQL then reports a deadlock between the two."""
    deadline = time.monotonic() + timeout_s
    while in_flight and time.monotonic() < deadline:
        pg.wait_for_timeout(50)  # lets Playwright deliver the requestfinished events
    pg.context.close()


def login(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Log in through the real /login/ form and wait until the browser has left it."""
    base = live_server.url if hasattr(live_server, "url") else str(live_server)
    page.goto(base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/login/" in page.url:
        raise AssertionError(f"login as {username!r} failed (still on {page.url})")


def wait_until(page, predicate, *, timeout_s: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate()` (e.g. a database query) until true, keeping Playwright's loop running."""
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s:.0f} s")
        page.wait_for_timeout(100)
