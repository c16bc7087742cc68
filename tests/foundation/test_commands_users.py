import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from annotation.models import Campaign

pytestmark = pytest.mark.django_db


def test_add_user_with_token_prints_the_token_last():
    out = io.StringIO()
    call_command("add_user", "ann", "--role", "annotator", "--password", "long-enough-1", "--token", stdout=out)
    user = get_user_model().objects.get(username="ann")
    assert out.getvalue().strip().splitlines()[-1] == Token.objects.get(user=user).key
    assert user.groups.filter(name="annotator").exists()
    assert user.check_password("long-enough-1")


def test_add_user_rejects_a_short_password_and_creates_nothing():
    with pytest.raises(CommandError, match="password too short"):
        call_command("add_user", "ann", "--role", "annotator", "--password", "short")
    assert not get_user_model().objects.filter(username="ann").exists()


def test_create_campaign_with_settings():
    call_command(
        "create_campaign",
        "c1",
        "--name",
        "First",
        "--ratings-per-image",
        "5",
        "--batch-size",
        "10",
        "--golden-per-batch",
        "3",
        "--lease-minutes",
        "15",
        stdout=io.StringIO(),
    )
    c = Campaign.objects.get(slug="c1")
    assert (c.name, c.ratings_per_image, c.batch_size, c.golden_per_batch, c.lease_minutes) == ("First", 5, 10, 3, 15)


def test_create_campaign_twice_is_an_error():
    call_command("create_campaign", "c1", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_campaign", "c1", stdout=io.StringIO())


def test_create_campaign_rejects_unordered_thresholds():
    with pytest.raises(CommandError, match="reject_threshold"):
        call_command("create_campaign", "c2", "--approve-threshold", "0.3", "--reject-threshold", "0.6")
    assert not Campaign.objects.filter(slug="c2").exists()
