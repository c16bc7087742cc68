"""The shared Playwright helpers themselves: Chromium starts, logs in, and the ORM still works."""

import pytest

from tests.browser import login


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_helper_logs_in_and_orm_works_beside_the_browser(page, live_server, make_user):
    user = make_user("annotator")
    login(page, live_server, user.username)
    assert page.locator(".who").inner_text() == user.username
    # The ORM still answers in this thread while Playwright's loop is running.
    user.refresh_from_db()
    assert user.last_login is not None
    assert page.console_errors == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pages_close_only_once_their_requests_are_answered(browser, live_server):
    """The page fixture's teardown waits for requests still in flight (so none reaches the live server while
    the test's tables are truncated), and gives up after its timeout rather than hanging."""
    import time

    from tests.browser import close_when_idle, new_page, track_in_flight

    pg = new_page(browser)
    in_flight = track_in_flight(pg)
    held = []
    pg.route("**/held", lambda route: held.append(route))  # never answered: stays in flight
    pg.goto(f"{live_server.url}/login/")
    pg.evaluate("() => { fetch('/held').catch(() => {}); }")
    while not held:
        pg.wait_for_timeout(20)
    # the held fetch; the browser may also be fetching the page's favicon on its own schedule
    assert len([r for r in in_flight if "favicon" not in r.url]) == 1
    t0 = time.monotonic()
    close_when_idle(pg, in_flight, timeout_s=0.5)
    assert 0.5 <= time.monotonic() - t0 < 5

    pg = new_page(browser)
    idle = track_in_flight(pg)
    pg.goto(f"{live_server.url}/login/")
    t0 = time.monotonic()
    close_when_idle(pg, idle, timeout_s=10)
    assert time.monotonic() - t0 < 5  # nothing in flight: it does not wait out its timeout
