"""Registering generators with how to run them.

A generator is an `annotation.Generator` (a name and a media type, shared with imports); its GeneratorSpec says
how to run it: a diffusers pipeline with its exact, resolved parameters (generation.pipelines.spec.RunSpec), or
"external" (its content arrives by import, as before).

A generator's name stands for one configuration, so that per-generator (model-level) metrics compare like with
like: registering a name again with the same parameters only adds the campaign; with other parameters it is
refused once the generator has outputs or items (choose a new name), and replaces the spec before that.

Class names (pipeline, scheduler) are checked for form here, and against the installed diffusers on the worker
(importing diffusers imports torch, which the web process does without): an unknown class fails the job's
first batch with "diffusers X has no pipeline class Y".
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotation.models import Campaign, Generator, Item
from core.errors import Conflict, InvalidInput
from generation.pipelines.spec import SpecError, build_spec

from ..models import GenerationOutput, GeneratorSpec

NAME_MAX = 120


@transaction.atomic
def generator_register(
    *,
    name: str,
    campaign: Campaign,
    kind: str,
    model: str = "",
    params: dict[str, Any] | None = None,
    tiny: str | None = None,
    media_type: str | None = None,
    created_by=None,
) -> GeneratorSpec:
    """Register (or re-register) generator `name` for `campaign`.

    kind "diffusers": `model` (path or hub id) and `params` (RunSpec keys), or `tiny` ("image"/"video") for the
    tiny CPU pipeline. kind "external": `media_type` only. InvalidInput/Conflict say why nothing was written.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a generator needs a name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"generator name is longer than {NAME_MAX} characters")
    if kind == GeneratorSpec.Kind.EXTERNAL:
        if media_type not in ("image", "video"):
            raise InvalidInput("an external generator needs --media-type image or video")
        if params or model or tiny:
            raise InvalidInput("an external generator takes no model or parameters (its content is imported)")
        spec: dict[str, Any] = {}
    elif kind == GeneratorSpec.Kind.DIFFUSERS:
        try:
            run_spec = build_spec(model=model, params=params, tiny=tiny)
        except SpecError as exc:
            raise InvalidInput(str(exc)) from None
        spec = run_spec.as_dict()
        if media_type and media_type != run_spec.media_type:
            raise InvalidInput(
                f"the pipeline makes {run_spec.media_type}s, not {media_type}s "
                "(set --param media_type=... for a pipeline class the platform does not know)"
            )
        media_type = run_spec.media_type
    else:
        raise InvalidInput(f"kind must be diffusers or external, got {kind!r}")

    generator = Generator.objects.select_for_update().filter(name=name).first()
    if generator is None:
        generator = Generator.objects.create(name=name, media_type=media_type)
    elif generator.media_type != media_type:
        raise Conflict(f"generator {name!r} exists as a {generator.media_type} generator; this one makes {media_type}s")
    current = GeneratorSpec.objects.filter(generator=generator).first()
    has_content = (
        Item.objects.filter(generator=generator).exists()
        or GenerationOutput.objects.filter(generator=generator).exists()
    )
    if current is None:
        if has_content and kind == GeneratorSpec.Kind.DIFFUSERS:
            raise Conflict(f"generator {name!r} already has imported items; register the pipeline under a new name")
        current = GeneratorSpec.objects.create(generator=generator, kind=kind, spec=spec, created_by=created_by)
    elif (current.kind, current.spec) != (kind, spec):
        if has_content:
            raise Conflict(
                f"generator {name!r} already has outputs made with other parameters; a generator stands "
                "for one configuration: register this one under a new name"
            )
        current.kind, current.spec = kind, spec
        current.save(update_fields=["kind", "spec", "updated_at"])
    current.campaigns.add(campaign)
    return current


def generator_specs(*, campaign: Campaign | None = None):
    qs = GeneratorSpec.objects.select_related("generator").order_by("generator__name")
    return qs.filter(campaigns=campaign) if campaign is not None else qs
