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
