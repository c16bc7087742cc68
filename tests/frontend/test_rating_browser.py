"""The rating page in Chromium: zoom, pan and full size; video keys; skip and flag; the instructions sheet;
the session counter; no false warning after a quick second Enter; a focus that never looks like a chosen
score; clean layouts at 390, 820 and 1280 px; no serious accessibility violation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from annotation.models import AnnotatorProfile, ItemFlag, Rating, Task
from tests.browser import login, new_page, wait_until
from tests.frontend.browser_checks import axe_violations, check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_rating(page, live_server, user, campaign):
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    expect(page.locator("#rating-panel")).to_be_visible()


def media_transform(page) -> str:
    return page.evaluate("() => document.querySelector('#media img, #media video').style.transform")


def test_zoom_pan_and_full_size(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=2, videos=0)
    open_rating(page, live_server, make_user("annotator"), campaign)
    page.wait_for_function("() => document.querySelector('#media img').naturalWidth > 0")
    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("150%")
    assert "scale(1.5)" in media_transform(page)
    box = page.locator("#media-box").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 + 25, steps=4)
    page.mouse.up()
    assert "translate(60px, 25px)" in media_transform(page)
    page.keyboard.press("0")
    expect(page.locator("#zoom-level")).to_have_text("100%")
    assert media_transform(page) == ""
    page.keyboard.press("f")
    expect(page.locator("#full-view")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#full-media img').naturalWidth === 320")
    check_page(page, "rating-full-size")
    page.keyboard.press("Escape")
    expect(page.locator("#full-view")).to_be_hidden()
    page.keyboard.press("3")  # keys work again once it is closed
    expect(page.locator('.scale[data-dimension="quality"] [aria-pressed="true"]')).to_have_attribute("data-score", "3")


def test_video_keys_play_step_and_change_speed(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=0, videos=1)
    open_rating(page, live_server, make_user("annotator"), campaign)
    page.wait_for_function("() => { const v = document.querySelector('#media video'); return v && v.readyState >= 2; }")
    expect(page.locator("#video-tools")).to_be_visible()
    # It autoplays; on a loaded machine playback may start after readyState 2, and Space on a video not yet
    # playing would start it: wait until it plays, then Space pauses (and presses no score button).
    page.wait_for_function("() => !document.querySelector('#media video').paused")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('#media video').paused")
    assert page.locator('.score-button[aria-pressed="true"]').count() == 0
    page.evaluate("() => { document.querySelector('#media video').currentTime = 0.5; }")
    page.wait_for_function("() => Math.abs(document.querySelector('#media video').currentTime - 0.5) < 0.01")
    page.keyboard.press(".")  # one frame on: the video has 4 frames a second
    page.wait_for_function("() => Math.abs(document.querySelector('#media video').currentTime - 0.75) < 0.01")
    page.keyboard.press(",")
    page.keyboard.press(",")
    page.wait_for_function("() => Math.abs(document.querySelector('#media video').currentTime - 0.25) < 0.01")
    page.keyboard.press("]")
    expect(page.locator("#speed")).to_have_text("1.5×")
    assert page.evaluate("() => document.querySelector('#media video').playbackRate") == 1.5
    page.keyboard.press("[")
    page.keyboard.press("[")
    expect(page.locator("#speed")).to_have_text("0.5×")
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.querySelector('#media video').paused")


def test_skip_and_flag_take_the_item_out_and_reach_the_admins(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=3, videos=0)
    user = make_user("annotator")
    open_rating(page, live_server, user, campaign)
    expect(page.locator("#progress-text")).to_have_text("0 / 3")
    first = page.locator("#media img").get_attribute("src")
    page.keyboard.press("s")
    expect(page.locator("#skip-dialog")).to_be_visible()
    check_page(page, "rating-skip-dialog", axe=True)
    page.check('input[name=reason][value="other"]')
    page.click("#skip-confirm")
    expect(page.locator("#skip-hint")).to_have_text("Say in a few words what is wrong with it.")
    page.fill("#skip-note", "the right half is missing")
    page.click("#skip-confirm")
    expect(page.locator("#skip-dialog")).to_be_hidden()
    expect(page.locator("#progress-text")).to_have_text("1 / 3")
    assert page.locator("#media img").get_attribute("src") != first
    wait_until(page, lambda: ItemFlag.objects.filter(annotator=user).exists(), what="flag saved")
    flag = ItemFlag.objects.get(annotator=user)
    task_id = int(re.search(r"/tasks/(\d+)/", first).group(1))
    assert (flag.reason, flag.note, flag.item_id) == (
        "other",
        "the right half is missing",
        Task.objects.get(pk=task_id).item_id,
    )
    assert Task.objects.get(pk=task_id).status == "skipped"
    page.keyboard.press("s")
    page.keyboard.press("Enter")  # the first choice: a plain skip, no flag
    expect(page.locator("#progress-text")).to_have_text("2 / 3")
    wait_until(page, lambda: Task.objects.filter(annotator=user, status="skipped").count() == 2, what="skip saved")
    assert ItemFlag.objects.filter(annotator=user).count() == 1
    for key in ("4", "4", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#summary-text")).to_contain_text(
        "You rated 1 of 3 items in this batch (2 skipped)", timeout=30_000
    )


def test_the_instructions_open_over_the_page(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=1, videos=0, instructions="Judge sharpness first.")
    open_rating(page, live_server, make_user("annotator"), campaign)
    page.keyboard.press("2")
    page.keyboard.press("i")
    sheet = page.locator("#instructions")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Judge sharpness first.")
    expect(sheet.locator(".anchor-level")).to_have_count(10)  # five levels, two dimensions
    expect(sheet).to_contain_text("Severe artefacts")
    assert page.url.endswith("/rate/")
    check_page(page, "rating-instructions", axe=True)
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    # the score given before is still there, and the page goes on where it was
    expect(page.locator('.scale[data-dimension="quality"] [aria-pressed="true"]')).to_have_attribute("data-score", "2")


def test_session_counter_and_no_false_warning_after_a_quick_second_enter(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=3, videos=0)
    user = make_user("annotator")
    open_rating(page, live_server, user, campaign)
    expect(page.locator("#session")).to_have_text("Today: 0 rated")
    for key in ("3", "4"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # pressed twice by habit: the new item must not warn
    expect(page.locator("#progress-text")).to_have_text("1 / 3")
    expect(page.locator("#status")).to_have_text("")
    expect(page.locator("#session")).to_contain_text("Today: 1 rated")
    wait_until(page, lambda: Rating.objects.filter(annotator=user).count() == 1, what="rating saved")
    expect(page.locator("#session")).to_contain_text("median", timeout=15_000)


def test_the_focus_never_looks_like_a_chosen_score(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=1, videos=0)
    open_rating(page, live_server, make_user("annotator"), campaign)
    focused = page.evaluate("() => document.activeElement.className")
    assert "scale" in focused and "score-button" not in focused
    page.keyboard.press("Tab")  # walking the buttons with Tab: an outline, not the chosen fill
    styles = page.evaluate("""() => { const b = document.activeElement; const s = getComputedStyle(b);
        return {cls: b.className, bg: s.backgroundColor, outline: s.outlineStyle}; }""")
    assert styles["cls"] == "score-button" and styles["bg"] == "rgb(255, 255, 255)" and styles["outline"] == "dashed"


@pytest.mark.parametrize("width,height", [(390, 844), (820, 1180), (1280, 800)], ids=["phone", "tablet", "laptop"])
def test_the_rating_page_is_clean_at_every_width(browser, live_server, make_user, media_campaign, width, height):
    campaign, _ = media_campaign(images=1, videos=1)
    page = new_page(browser, width=width, height=height)
    try:
        open_rating(page, live_server, make_user("annotator"), campaign)
        page.wait_for_function(
            "() => { const m = document.querySelector('#media img, #media video');"
            " return m && (m.naturalWidth > 0 || m.readyState >= 2); }"
        )
        page.keyboard.press("4")
        check_page(page, "rating", axe=True)
        for selector in ("#submit", "#skip", ".scale[data-dimension=alignment] [data-score='5']"):
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
    finally:
        page.context.close()


def test_a_paused_annotator_is_told_why_and_whom_to_ask(page, live_server, make_user, media_campaign):
    campaign, _ = media_campaign(images=2, videos=0)
    make_user("admin", username="lead-admin", email="lead@example.org")
    user = make_user("annotator")
    AnnotatorProfile.objects.update_or_create(user=user, defaults={"is_paused": True, "paused_reason": "too fast"})
    login(page, live_server, user.username)
    page.goto(f"{live_server.url}/campaigns/{campaign.slug}/rate/")
    expect(page.locator("#blocked-text")).to_contain_text("your account is paused and gets no new batches: too fast")
    expect(page.locator("#contacts a")).to_have_attribute("href", "mailto:lead@example.org")
    retry = page.locator("#retry").bounding_box()
    assert retry["width"] < 0.5 * page.viewport_size["width"]  # a button, not a full-width bar
    check_page(page, "rating-paused", axe=True)
    assert axe_violations(page) == []
