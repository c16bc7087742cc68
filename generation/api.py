"""API v1 of the generation app: taxonomies, prompt sets (import, list, classify), generators with their run
specs, generation jobs (create, progress per generator, cancel, outputs with provenance), review of outputs
that wait for approval, and coverage (JSON or CSV).

Researchers and admins only (annotators and experts get 403). Thin views: validate, call one service,
serialize. Long work (prompt imports, classification, generation) answers 202 with where to follow it.
"""

from __future__ import annotations

import mimetypes
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import MediaType
from annotation.services.campaigns import campaign_get
from annotation.services.jobs import job_create, job_enqueue
from core.errors import InvalidInput, NotFound, ServiceError
from core.permissions import IsResearcher
from training.services.configs import llm_endpoint_check

from . import selectors
from .models import GenerationJob, GenerationOutput, GeneratorSpec, PromptSet, PromptSetEntry, Taxonomy
from .services.classify import prompts_classify_enqueue
from .services.coverage import coverage_compute, coverage_csv
from .services.generators import generator_register, generator_specs
from .services.jobs import (
    generation_job_cancel,
    generation_job_create,
    generation_job_enqueue,
    generation_job_get,
    job_params,
)
from .services.prompts import is_long, prompt_set_get
from .services.review import outputs_review
from .services.taxonomy import taxonomy_import, taxonomy_read

MAX_PROMPT_FILE = 50 * 1024 * 1024
REGISTER_KINDS = [
    ("diffusers", "diffusers pipeline"),
    ("tiny", "tiny CPU pipeline"),
    ("external", "external (imported)"),
]


def _prompt_set(slug: str, set_slug: str) -> PromptSet:
    return prompt_set_get(campaign=campaign_get(slug=slug), slug=set_slug)


JobStarted = inline_serializer(
    "GenerationJobStarted", {"job_id": serializers.IntegerField(), "status_url": serializers.CharField()}
)


# --- taxonomies -------------------------------------------------------------------------------------------


class TaxonomyOutput(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.slug", default=None, allow_null=True)
    entries = serializers.SerializerMethodField()

    class Meta:
        model = Taxonomy
        fields = ("slug", "name", "description", "campaign", "is_builtin", "entries")

    def get_entries(self, taxonomy) -> list[dict]:
        return [
            {
                "category": e.category,
                "group": e.group,
                "subcategory": e.subcategory,
                "target": e.target,
                "keywords": e.keywords,
            }
            for e in taxonomy.entries.all()
        ]


class TaxonomyListApi(APIView):
    permission_classes = [IsResearcher]
    parser_classes = [MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        file = serializers.FileField(help_text="YAML or CSV taxonomy (see docs/generation.md).")
        slug = serializers.CharField(required=False)

    @extend_schema(responses=TaxonomyOutput(many=True))
    def get(self, request, slug: str):
        """Taxonomies a campaign can use: the built-in ones and its own."""
        campaign = campaign_get(slug=slug)
        return Response(TaxonomyOutput(selectors.taxonomies_for(campaign=campaign), many=True).data)

    @extend_schema(request={"multipart/form-data": Input}, responses={201: TaxonomyOutput})
    def post(self, request, slug: str):
        """Bring the campaign's own taxonomy (replaces one of the same slug that no prompt set would lose leaves of)."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput(f"{upload.name}: the file is not UTF-8 text") from None
        taxonomy = taxonomy_import(
            campaign=campaign, data=taxonomy_read(text=text, name=upload.name, slug=data.validated_data.get("slug"))
        )
        return Response(TaxonomyOutput(taxonomy).data, status=201)


# --- prompt sets --------------------------------------------------------------------------------------------


class PromptSetListApi(APIView):
    permission_classes = [IsResearcher]
    parser_classes = [MultiPartParser, FormParser]

    Output = inline_serializer(
        "PromptSetSummary",
        many=True,
        fields={
            "id": serializers.IntegerField(),
            "slug": serializers.CharField(),
            "name": serializers.CharField(),
            "taxonomy": serializers.CharField(),
            "prompts": serializers.IntegerField(),
            "long": serializers.IntegerField(),
            "unclassified": serializers.IntegerField(),
            "created_at": serializers.DateTimeField(),
        },
    )

    class Input(serializers.Serializer):
        file = serializers.FileField(help_text="CSV or JSONL: text, optional category, subcategory, tags.")
        name = serializers.CharField(required=False, help_text="Prompt set (created if new; default: the file's name).")
        taxonomy = serializers.CharField(
            required=False, help_text="Taxonomy slug for a new set (default qeval-table7)."
        )
        classify = serializers.ChoiceField(
            choices=["rules"], required=False, help_text="Classify prompts without a category by the rule set."
        )

    @extend_schema(responses=Output)
    def get(self, request, slug: str):
        """The campaign's prompt sets with their counts (prompts, long prompts, prompts without a category)."""
        return Response(selectors.prompt_set_list(campaign=campaign_get(slug=slug)))

    @extend_schema(request={"multipart/form-data": Input}, responses={202: JobStarted})
    def post(self, request, slug: str):
        """Import a prompt file into a set, as a job (all rows or none; bad rows fail the job with one line)."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        suffix = Path(upload.name).suffix.lower()
        if suffix not in (".csv", ".jsonl", ".ndjson"):
            raise InvalidInput(f"{upload.name}: a prompt file must be .csv or .jsonl")
        if upload.size > MAX_PROMPT_FILE:
            raise InvalidInput(f"{upload.name}: larger than {MAX_PROMPT_FILE // 2**20} MB")
        # Kept on the shared volume until the job ends (the workers read it there).
        folder = Path(settings.GENERATION_ROOT) / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=folder, suffix=suffix, delete=False, prefix=Path(upload.name).stem[:40] + "-"
        ) as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        params = {
            "campaign": campaign.slug,
            "prompt_set": data.validated_data.get("name") or Path(upload.name).stem,
            "taxonomy": data.validated_data.get("taxonomy"),
            "path": fh.name,
            "classify": data.validated_data.get("classify"),
            "remove_after": True,
            "label": upload.name,
        }
        job = job_create(kind="prompts_import", params=params, campaign=campaign, created_by=request.user)
        try:
            job_enqueue(job=job)
        except ServiceError:
            pass  # eager Celery only: the job ran here and holds the one-line reason, as a worker would record it
        return Response({"job_id": job.pk, "status_url": f"/api/v1/jobs/{job.pk}/"}, status=202)


class PromptListApi(APIView):
    permission_classes = [IsResearcher]

    class Output(serializers.ModelSerializer):
        prompt_id = serializers.IntegerField(source="prompt.id")
        text = serializers.CharField(source="prompt.text")
        category = serializers.CharField(source="prompt.category")
        subcategory = serializers.CharField(source="prompt.subcategory")
        word_count = serializers.IntegerField(source="prompt.word_count")
        is_long = serializers.SerializerMethodField()
        method = serializers.SerializerMethodField()

        class Meta:
            model = PromptSetEntry
            fields = (
                "prompt_id",
                "text",
                "category",
                "subcategory",
                "word_count",
                "is_long",
                "tags",
                "method",
                "source_line",
            )

        def get_is_long(self, entry) -> bool:
            return is_long(entry.prompt.word_count)

        def get_method(self, entry) -> str | None:
            classification = getattr(entry.prompt, "classification", None)
            return classification.method if classification else None

    @extend_schema(
        responses=Output(many=True),
        parameters=[OpenApiParameter("category", str, required=False), OpenApiParameter("long", bool, required=False)],
    )
    def get(self, request, slug: str, set_slug: str):
        """Prompts of a set (paginated), with category, how it was found, word count and the long-prompt mark."""
        qs = selectors.prompt_entries(
            prompt_set=_prompt_set(slug, set_slug),
            category=request.query_params.get("category"),
            long_only=request.query_params.get("long") in ("1", "true"),
        )
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.Output(page, many=True).data)


class PromptClassifyApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        method = serializers.ChoiceField(choices=["rules", "llm"], default="rules")
        model = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="LLM: a local path or hub id on the worker, or the model name at the endpoint.",
        )
        endpoint = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="OpenAI-compatible base URL: one of the deployment's QEVAL_LLM_ENDPOINTS.",
        )
        overwrite = serializers.BooleanField(default=False, help_text="Also prompts that have a category.")

    @extend_schema(request=Input, responses={202: JobStarted})
    def post(self, request, slug: str, set_slug: str):
        """Classify the set's prompts without a category (a job; an LLM runs on a generation worker)."""
        prompt_set = _prompt_set(slug, set_slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["method"] == "llm" and not (v["model"] or v["endpoint"]):
            raise InvalidInput("an LLM classification needs a model or an endpoint")
        if v["endpoint"]:
            v["endpoint"] = llm_endpoint_check(v["endpoint"])  # 400 now, not a failed job later
        job = job_create(
            kind="prompts_classify",
            campaign=prompt_set.campaign,
            created_by=request.user,
            params={"campaign": prompt_set.campaign.slug, "prompt_set": prompt_set.slug, **v},
        )
        try:
            prompts_classify_enqueue(job=job)
        except ServiceError:
            pass
        return Response({"job_id": job.pk, "status_url": f"/api/v1/jobs/{job.pk}/"}, status=202)


# --- generators ---------------------------------------------------------------------------------------------


class GeneratorSpecOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="generator.name")
    media_type = serializers.CharField(source="generator.media_type")

    class Meta:
        model = GeneratorSpec
        fields = ("name", "media_type", "kind", "spec", "created_at", "updated_at")


class GeneratorListApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        name = serializers.CharField()
        kind = serializers.ChoiceField(choices=REGISTER_KINDS)
        model = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="diffusers: path or hub id."
        )
        tiny = serializers.ChoiceField(
            choices=MediaType.choices, required=False, help_text="kind tiny: which pipeline."
        )
        media_type = serializers.ChoiceField(choices=MediaType.choices, required=False, help_text="kind external.")
        params = serializers.DictField(
            required=False,
            default=dict,
            help_text="RunSpec keys (steps, guidance_scale, width, ...) or call.<argument>.",
        )

    @extend_schema(responses=GeneratorSpecOutput(many=True))
    def get(self, request, slug: str):
        """Generators registered for the campaign, with their exact run parameters."""
        return Response(GeneratorSpecOutput(generator_specs(campaign=campaign_get(slug=slug)), many=True).data)

    @extend_schema(request=Input, responses={201: GeneratorSpecOutput})
    def post(self, request, slug: str):
        """Register a generator: a diffusers pipeline with its parameters, the tiny CPU pipeline, or external."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["kind"] == "tiny" and not v.get("tiny"):
            raise InvalidInput("kind tiny needs tiny: image or video")
        spec = generator_register(
            name=v["name"],
            campaign=campaign,
            kind="external" if v["kind"] == "external" else "diffusers",
            model=v["model"],
            params=v["params"],
            tiny=v.get("tiny") if v["kind"] == "tiny" else None,
            media_type=v.get("media_type"),
            created_by=request.user,
        )
        return Response(GeneratorSpecOutput(spec).data, status=201)


# --- generation jobs ----------------------------------------------------------------------------------------


class GenerationJobOutput(serializers.ModelSerializer):
    campaign = serializers.CharField(source="campaign.slug")
    generators = serializers.SerializerMethodField()
    params = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields: tuple[str, ...] = (
            "id",
            "campaign",
            "status",
            "message",
            "generators",
            "params",
            "planned",
            "existing",
            "to_make",
            "cancel_requested",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        )

    def get_generators(self, job) -> list[str]:
        return [g.name for g in job.generators.all()]

    def get_params(self, job) -> dict:
        return job_params(job)


class GenerationJobDetailOutput(GenerationJobOutput):
    progress = serializers.SerializerMethodField()

    class Meta(GenerationJobOutput.Meta):
        fields = GenerationJobOutput.Meta.fields + ("progress",)

    def get_progress(self, job) -> dict:
        return selectors.job_progress(job=job)


class GenerationJobListApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        generators = serializers.ListField(child=serializers.CharField(), allow_empty=False)
        prompt_set = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            help_text="Prompt set slug (default: every set of the campaign).",
        )
        seeds = serializers.IntegerField(default=1, min_value=1, max_value=1000, help_text="Seeds per prompt.")
        seed_base = serializers.IntegerField(default=0, min_value=0)
        category = serializers.CharField(required=False, allow_blank=True, default="")
        subcategory = serializers.CharField(required=False, allow_blank=True, default="")
        tag = serializers.CharField(required=False, allow_blank=True, default="")
        long_only = serializers.BooleanField(default=False)
        review = serializers.BooleanField(
            default=False, help_text="Outputs wait for approval before they become items."
        )

    @extend_schema(responses=GenerationJobOutput(many=True))
    def get(self, request, slug: str):
        """The campaign's generation jobs, newest first (limit/offset pagination)."""
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.job_list(campaign=campaign_get(slug=slug)), request, view=self)
        return paginator.get_paginated_response(GenerationJobOutput(page, many=True).data)

    @extend_schema(request=Input, responses={202: GenerationJobDetailOutput})
    def post(self, request, slug: str):
        """Start a generation job: one output per (prompt, generator, seed) still missing, on the generation queue.
        A job whose outputs all exist finishes at once and says so."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        prompt_set = prompt_set_get(campaign=campaign, slug=v["prompt_set"]) if v["prompt_set"] else None
        job = generation_job_create(
            campaign=campaign,
            generator_names=v["generators"],
            prompt_set=prompt_set,
            seeds=v["seeds"],
            seed_base=v["seed_base"],
            category=v["category"],
            subcategory=v["subcategory"],
            tag=v["tag"],
            long_only=v["long_only"],
            review=v["review"],
            created_by=request.user,
        )
        # The answer is the job as created: read before its batches go out, so a fast worker cannot make it "running"
        # in one answer and "queued" in the next.
        created = GenerationJobDetailOutput(generation_job_get(job_id=job.pk)).data
        generation_job_enqueue(job=job)
        return Response(created, status=status.HTTP_202_ACCEPTED)


class GenerationJobDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=GenerationJobDetailOutput)
    def get(self, request, job_id: int):
        """A job with its progress per generator: outputs by status, throughput, latest failures."""
        return Response(GenerationJobDetailOutput(generation_job_get(job_id=job_id)).data)


class GenerationJobCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=GenerationJobDetailOutput)
    def post(self, request, job_id: int):
        """Stop handing out batches (outputs not made stay pending for a later job). 409 when finished."""
        job = generation_job_cancel(job_id=job_id)
        return Response(GenerationJobDetailOutput(job).data)


class GenerationOutputOutput(serializers.ModelSerializer):
    generator = serializers.CharField(source="generator.name")
    prompt = serializers.CharField(source="prompt.text")
    item_id = serializers.CharField(source="item.item_id", default=None)
    thumbnail_url = serializers.SerializerMethodField()
    media_url = serializers.SerializerMethodField()

    class Meta:
        model = GenerationOutput
        fields = (
            "id",
            "job",
            "generator",
            "prompt",
            "prompt_id",
            "seed",
            "status",
            "item",
            "item_id",
            "media_type",
            "width",
            "height",
            "duration",
            "fps",
            "sha256",
            "provenance",
            "error",
            "attempts",
            "worker",
            "finished_at",
            "gen_seconds",
            "thumbnail_url",
            "media_url",
        )

    def get_thumbnail_url(self, output) -> str | None:
        return f"/api/v1/generation-outputs/{output.pk}/thumbnail/" if output.thumbnail else None

    def get_media_url(self, output) -> str | None:
        return f"/api/v1/generation-outputs/{output.pk}/media/" if output.media else None


class GenerationOutputListApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        responses=GenerationOutputOutput(many=True),
        parameters=[OpenApiParameter("status", enum=GenerationOutput.Status.values, required=False)],
    )
    def get(self, request, job_id: int):
        """A job's outputs with their provenance (paginated); ?status=review lists those waiting for approval."""
        job = generation_job_get(job_id=job_id)
        wanted = request.query_params.get("status") or None
        if wanted and wanted not in GenerationOutput.Status.values:
            raise InvalidInput(f"status must be one of {', '.join(GenerationOutput.Status.values)}")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.output_list(job=job, status=wanted), request, view=self)
        return paginator.get_paginated_response(GenerationOutputOutput(page, many=True).data)


class GenerationOutputFileApi(APIView):
    permission_classes = [IsResearcher]
    which = "media"

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY, 404: OpenApiResponse(description="no such file")})
    def get(self, request, output_id: int):
        """The output's file (researchers review outputs before they become items)."""
        name = selectors.output_file_name(output_id=output_id, field=self.which)
        if not name or not default_storage.exists(name):
            raise NotFound("no such output file")
        return FileResponse(
            default_storage.open(name, "rb"), content_type=mimetypes.guess_type(name)[0] or "application/octet-stream"
        )


class GenerationOutputThumbnailApi(GenerationOutputFileApi):
    which = "thumbnail"


class OutputReviewApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["approve", "reject"])
        ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
        job = serializers.IntegerField(required=False, allow_null=True, default=None)

    Output = inline_serializer(
        "OutputReviewResult",
        {
            "approved": serializers.IntegerField(required=False),
            "rejected": serializers.IntegerField(required=False),
            "failed": serializers.IntegerField(required=False),
            "skipped": serializers.IntegerField(),
        },
    )

    @extend_schema(request=Input, responses=Output)
    def post(self, request, slug: str):
        """Approve outputs waiting for approval (they become items) or reject them; by ids or a whole job."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(
            outputs_review(
                campaign=campaign, decision=v["decision"], output_ids=v["ids"], job_id=v["job"], user=request.user
            )
        )


# --- coverage -------------------------------------------------------------------------------------------------


class CoverageApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        parameters=[
            OpenApiParameter("by", enum=["subcategory", "category"], required=False),
            OpenApiParameter(
                "export",
                enum=["prompts", "items"],
                required=False,
                description="Answer with that table as CSV instead of JSON.",
            ),
        ],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, slug: str):
        """Coverage: prompts x category x subcategory per prompt set, and items x generator x category, with gaps and
        the share of long prompts. `?export=items` (or prompts) downloads the table as CSV."""
        campaign = campaign_get(slug=slug)
        by = request.query_params.get("by") or "subcategory"
        if by not in ("subcategory", "category"):
            raise InvalidInput("by must be subcategory or category")
        cov = coverage_compute(campaign=campaign, by=by)
        export = request.query_params.get("export")
        if export:
            if export not in ("prompts", "items"):
                raise InvalidInput("export must be prompts or items")
            response = HttpResponse(coverage_csv(coverage=cov, table=export), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-coverage-{export}.csv"'
            return response
        return Response(cov)


__all__ = ["NotFound"]
