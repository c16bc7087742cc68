"""The rating page in a real Chromium against the live server, the real API and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Batch, Rating, Task
from tests.browser import login, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASK_ID = re.compile(r"/tasks/(\d+)/media/")


def shown_item_id(page) -> int:
    """The item on screen: its media URL names the task (never the item), the task names the item."""
    src = page.locator("#media img, #media video").first.get_attribute("src")
    found = TASK_ID.search(src or "")
    assert found, f"no task id in the media URL {src!r}"
    return Task.objects.get(pk=int(found.group(1))).item_id


def open_rating_page(page, live_server, user, campaign):
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/")
    page.locator("#start-rating").focus()  # keyboard only: Enter on the focused "Start rating" link
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/campaigns/{campaign.slug}/rate/")
    expect(page.locator("#rating-panel")).to_be_visible()


def lane_answers(monkeypatch) -> list[str]:
    """The paths the live server's fast lane answered (tests/conftest.py: it serves config/wsgi.py's handler)."""
    from core.api.lean_dispatch import LeanLane

    answered: list[str] = []
    original = LeanLane.__call__

    def recorded(self, request):
        response = original(self, request)
        if response is not None:
            answered.append(request.path)
        return response

    monkeypatch.setattr(LeanLane, "__call__", recorded)
    return answered


def test_annotator_rates_a_whole_batch_with_the_keyboard(page, live_server, make_user, media_campaign, monkeypatch):
    campaign, items = media_campaign(images=5, videos=1, require_full_video=True)
    answered = lane_answers(monkeypatch)
    user = make_user("annotator")
    open_rating_page(page, live_server, user, campaign)
    expect(page.locator("#progress-text")).to_have_text("0 / 4")

    # Per item shown: the keys pressed and the scores they must save (Backspace fixes a score).
    plans = [
        (["3", "4"], (3, 4)),
        (["2", "Backspace", "5", "1"], (5, 1)),  # alignment empty: Backspace goes back to quality and clears it
        (["4", "4", "Backspace", "2"], (4, 2)),  # Backspace clears the alignment just set
        (["1", "5"], (1, 5)),
    ]
    expected = {}
    saw_video = False
    for n, (keys, scores) in enumerate(plans):
        expect(page.locator("#progress-text")).to_have_text(f"{n} / 4")
        item_id = shown_item_id(page)
        if page.locator("#media video").count():
            saw_video = True
            # require_full_video: locked until it played through once, and the page says so.
            expect(page.locator("#video-note")).to_be_visible()
            expect(page.locator(".score-button").first).to_be_disabled()
            expect(page.locator("#video-note")).to_be_hidden(timeout=15_000)
        if n == 0:  # Enter before every scale is set saves nothing and says what is missing
            page.keyboard.press("3")
            page.keyboard.press("Enter")
            expect(page.locator("#status")).to_have_text("Give a score for Alignment with the prompt first (keys 1-5).")
            expect(page.locator('.scale[data-dimension="alignment"] [aria-pressed="true"]')).to_have_count(0)
            expect(page.locator("#progress-text")).to_have_text("0 / 4")
            page.keyboard.press("Backspace")  # back to quality, cleared
        for key in keys:
            page.keyboard.press(key)
        pressed = page.locator('.scale[data-dimension="quality"] [aria-pressed="true"]')
        expect(pressed).to_have_attribute("data-score", str(scores[0]))
        expect(page.locator('.scale[data-dimension="alignment"] [aria-pressed="true"]')).to_have_attribute(
            "data-score", str(scores[1])
        )
        page.keyboard.press("Enter")
        expected[item_id] = scores

    assert saw_video
    expect(page.locator("#summary")).to_be_visible()
    # The last rating closes the batch; tests run Celery eagerly, so its scrutiny runs inside that
    # request (the first time also imports scipy): allow for it.
    expect(page.locator("#summary-title")).to_have_text("Batch done - thank you", timeout=30_000)
    expect(page.locator("#progress-text")).to_have_text("4 / 4")
    saved = {r.item_id: (r.quality, r.alignment) for r in Rating.objects.filter(annotator=user)}
    assert saved == expected
    assert all(d is not None and d >= 0 for d in Rating.objects.values_list("duration_ms", flat=True))
    assert Batch.objects.get(annotator=user).status == Batch.Status.CLOSED
    # the page's session and CSRF token took the fast lane, as under gunicorn: its batch request, 4 ratings
    assert [p.endswith("/rating/") for p in answered].count(True) == 4
    assert f"/api/v1/campaigns/{campaign.slug}/batches/" in answered

    # The end screen offers the next batch: Enter takes it (2 items left).
    expect(page.locator("#next-batch")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#rating-panel")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("0 / 2")
    assert Batch.objects.filter(annotator=user).count() == 2
    assert page.console_errors == []


def test_no_work_left_says_so(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=0, videos=0)
    user = make_user("annotator")
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    expect(page.locator("#no-work")).to_contain_text("No more work in this campaign, thank you")


def test_a_submission_that_never_reached_the_server_is_retried_and_saved_once(
    page, live_server, make_user, media_campaign
):
    campaign, _ = media_campaign(images=2, videos=0)
    user = make_user("annotator")
    attempts = []

    def flaky(route):
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/rating/", flaky)
    media_requests = set()
    page.on("request", lambda r: TASK_ID.search(r.url) and media_requests.add(TASK_ID.search(r.url).group(1)))
    open_rating_page(page, live_server, user, campaign)
    first = shown_item_id(page)
    # the next item's media is prefetched while the first is on screen
    wait_until(page, lambda: len(media_requests) == 2, what="next item prefetched")
    for key in ("4", "2", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#connection")).to_contain_text("offline - will retry")
    # The annotator carries on meanwhile: the next item is already on screen.
    assert shown_item_id(page) != first
    wait_until(page, lambda: Rating.objects.filter(annotator=user).exists(), what="the rating saved")
    expect(page.locator("#connection")).to_have_text("")
    rating = Rating.objects.get(annotator=user)
    assert (rating.item_id, rating.quality, rating.alignment) == (first, 4, 2)
    assert len(attempts) == 2
    expect(page.locator("#status")).to_have_text("")


def test_a_lost_answer_is_retried_and_the_409_counts_as_saved(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=2, videos=0)
    user = make_user("annotator")
    answers = []

    def lose_first_answer(route):
        response = route.fetch()  # the server saves the rating...
        answers.append(response.status)
        if len(answers) == 1:
            route.abort("connectionreset")  # ...but the browser never hears back
        else:
            route.fulfill(response=response)

    page.route("**/rating/", lose_first_answer)
    open_rating_page(page, live_server, user, campaign)
    for key in ("5", "5", "Enter", "3", "1", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#summary-title")).to_have_text("Batch done - thank you", timeout=30_000)
    assert answers[:2] == [201, 409]
    assert Rating.objects.filter(annotator=user).count() == 2
    expect(page.locator("#status")).to_have_text("")
    expect(page.locator("#progress-text")).to_have_text("2 / 2")


def test_an_expired_lease_is_explained_and_the_annotator_moves_on(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=2, videos=0)
    user = make_user("annotator")
    open_rating_page(page, live_server, user, campaign)
    first = shown_item_id(page)
    page.wait_for_function("() => document.querySelector('#media img').naturalWidth > 0")  # loaded while leased
    Task.objects.filter(annotator=user, item_id=first).update(lease_expires_at="2000-01-01T00:00:00Z")
    for key in ("2", "3", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#status")).to_contain_text("lease expired")
    expect(page.locator("#progress-text")).to_have_text("0 / 2")
    assert shown_item_id(page) != first
    assert not Rating.objects.filter(annotator=user).exists()


def test_mouse_and_touch_size_buttons_rate_too(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=1, videos=0)
    user = make_user("annotator")
    open_rating_page(page, live_server, user, campaign)
    page.click('.scale[data-dimension="alignment"] [data-score="2"]')
    page.click('.scale[data-dimension="quality"] [data-score="4"]')
    expect(page.locator('.scale[data-dimension="quality"] [data-score="4"]')).to_have_attribute("aria-pressed", "true")
    box = page.locator(".score-button").first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a comfortable touch target
    page.click("#submit")
    expect(page.locator("#summary-title")).to_have_text("Batch done - thank you", timeout=30_000)
    rating = Rating.objects.get(annotator=user)
    assert (rating.quality, rating.alignment) == (4, 2)


@pytest.mark.parametrize("width,height", [(1280, 800), (820, 1180)], ids=["laptop", "tablet"])
def test_rating_page_fits_laptop_and_tablet_screens(browser, live_server, make_user, media_campaign, width, height):
    """Image, prompt, both scales and the save button are all on screen without scrolling.
    Set QEVAL_SCREENSHOTS=/some/dir to keep a screenshot of each size."""
    import os

    from tests.browser import new_page

    campaign, _ = media_campaign(images=1, videos=0, instructions="Rate each image.")
    user = make_user("annotator")
    page = new_page(browser, width=width, height=height)
    try:
        login(page, live_server, user.username)
        page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
        page.wait_for_function("() => document.querySelector('#media img')?.naturalWidth > 0")
        page.keyboard.press("4")
        fits = page.evaluate("""() => {
            const r = (s) => document.querySelector(s).getBoundingClientRect();
            return {scroll: document.documentElement.scrollHeight, inner: innerHeight,
                    media: r('#media').height, submit: r('#submit').bottom, img: r('#media img').height};
        }""")
        assert fits["scroll"] <= fits["inner"], fits  # no scrolling needed
        assert fits["submit"] <= height and fits["media"] >= 0.4 * height, fits  # the media gets most of it
        if os.environ.get("QEVAL_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["QEVAL_SCREENSHOTS"], f"rating-{width}x{height}.png"))
    finally:
        page.context.close()


def test_heartbeat_keeps_leases_alive_while_the_annotator_is_active(
    page, live_server, make_user, media_campaign, settings
):
    settings.QEVAL_HEARTBEAT_SECONDS = 1
    campaign, _ = media_campaign(images=2, videos=0)
    user = make_user("annotator")
    open_rating_page(page, live_server, user, campaign)
    before = max(Task.objects.filter(annotator=user).values_list("lease_expires_at", flat=True))
    with page.expect_request(lambda r: r.url.endswith("/heartbeat/") and r.method == "POST", timeout=5_000):
        page.keyboard.press("3")  # activity
    leases = Task.objects.filter(annotator=user).values_list("lease_expires_at", flat=True)
    wait_until(page, lambda: min(leases.all()) > before, what="leases extended")


def test_finish_batch_early_returns_the_rest_and_shows_the_summary(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=3, videos=0)
    user = make_user("annotator")
    open_rating_page(page, live_server, user, campaign)
    for key in ("2", "2", "Enter"):
        page.keyboard.press(key)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#finish-early")
    expect(page.locator("#summary-text")).to_contain_text("You rated 1 of 3 items", timeout=30_000)
    wait_until(page, lambda: Batch.objects.get(annotator=user).status == Batch.Status.CLOSED, what="batch closed")
    assert Rating.objects.filter(annotator=user).count() == 1
    assert Task.objects.filter(annotator=user, status=Task.Status.RETURNED).count() == 2


def test_expert_mode_rates_golden_items(page, live_server, make_user, media_campaign):
    campaign, items = media_campaign(images=2, videos=0)
    type(items[0]).objects.filter(pk__in=[i.pk for i in items]).update(is_golden=True)
    expert = make_user("expert")
    login(page, live_server, expert.username)
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/")
    page.locator("#start-expert").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/rate/?mode=expert")
    expect(page.locator(".rate-title")).to_contain_text("Expert mode")
    expect(page.locator("#rating-panel")).to_be_visible()
    for key in ("4", "5", "Enter", "2", "1", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#summary-title")).to_have_text("Batch done - thank you", timeout=30_000)
    batch = Batch.objects.get(annotator=expert)
    assert batch.kind == Batch.Kind.EXPERT
    assert sorted(Rating.objects.filter(batch=batch).values_list("quality", "alignment")) == [(2, 1), (4, 5)]


def test_when_every_lease_ran_out_the_page_skips_to_the_end_of_the_batch(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=3, videos=0)
    user = make_user("annotator")
    open_rating_page(page, live_server, user, campaign)
    page.wait_for_function("() => document.querySelector('#media img').naturalWidth > 0")
    Task.objects.filter(annotator=user).update(lease_expires_at="2000-01-01T00:00:00Z")  # an idle tab
    for key in ("2", "3", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#status")).to_contain_text("lease expired")
    # No point rating the two other dead items: straight to the summary.
    expect(page.locator("#summary-text")).to_contain_text("You rated 0 of 3 items", timeout=30_000)
    assert not Rating.objects.filter(annotator=user).exists()
    assert Batch.objects.get(annotator=user).status == Batch.Status.CLOSED
