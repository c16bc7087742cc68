"""factory_boy factories for the platform's models. Items get a media path but no file: tests that
serve media write a real file (see `make_png`)."""

from __future__ import annotations

import hashlib
import io

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotation import models as m
from core.roles import roles_sync


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-1")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            roles_sync()
            self.groups.add(Group.objects.get(name=extracted))
        self.save()
        m.AnnotatorProfile.objects.get_or_create(user=self)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Campaign

    slug = factory.Sequence(lambda n: f"campaign-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    batch_size = 4
    golden_per_batch = 0
    # Every batch carries exactly golden_per_batch golden items unless a test asks for the calibrated
    # method's adaptive allocation (tests/scrutiny/test_golden_allocation.py).
    golden_min_per_batch = factory.LazyAttribute(lambda o: o.golden_per_batch)
    golden_max_per_batch = factory.LazyAttribute(lambda o: o.golden_per_batch)


class GeneratorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Generator
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"gen-{n}")
    media_type = m.MediaType.IMAGE


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Prompt
        django_get_or_create = ("text_sha256",)

    text = factory.Sequence(lambda n: f"a photo of object number {n} on a table")
    text_sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.text.encode()).hexdigest())
    word_count = factory.LazyAttribute(lambda o: len(o.text.split()))


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Item

    campaign = factory.SubFactory(CampaignFactory)
    item_id = factory.Sequence(lambda n: f"item-{n:06d}")
    media_type = m.MediaType.IMAGE
    media = factory.LazyAttribute(lambda o: f"media/{o.item_id}.png")
    width = 64
    height = 64
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.item_id.encode()).hexdigest())
    prompt = factory.SubFactory(PromptFactory)
    generator = factory.SubFactory(GeneratorFactory)
    target = factory.LazyAttribute(lambda o: o.campaign.target_for(o.media_type))


def make_png(width: int = 32, height: int = 24, color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def make_mp4(path, *, frames: int = 8, fps: int = 4, size=(32, 32)) -> None:
    """Write a tiny real H.264/MPEG-4 video with PyAV."""
    import av
    import numpy as np

    with av.open(str(path), mode="w") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
        except Exception:  # an av build without libx264
            stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            arr = np.full((size[1], size[0], 3), (i * 30) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
