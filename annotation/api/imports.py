"""Content import for researchers (and admins): start an import job, list a campaign's items."""

from django.urls import path
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ServiceError
from core.permissions import IsResearcher

from ..models import Item, MediaType
from ..selectors.items import campaign_items
from ..services.campaigns import campaign_get
from ..services.imports import archive_check, archive_store, server_path_resolve
from ..services.jobs import job_create, job_enqueue


class ImportStartApi(APIView):
    permission_classes = [IsResearcher]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema_serializer(component_name="ImportStartInput")
    class Input(serializers.Serializer):
        archive = serializers.FileField(
            required=False, help_text="A zip: manifest.csv/.jsonl at its top level plus media."
        )
        manifest = serializers.CharField(
            required=False, help_text="Manifest's name inside the zip or the server folder."
        )
        server_path = serializers.CharField(required=False, help_text="Absolute path inside QEVAL_IMPORT_ROOTS.")

        def validate(self, attrs):
            if bool(attrs.get("archive")) == bool(attrs.get("server_path")):
                raise serializers.ValidationError("send exactly one of 'archive' (multipart) or 'server_path' (JSON)")
            return attrs

    Output = inline_serializer(
        "ImportStarted", {"job_id": serializers.IntegerField(), "status_url": serializers.CharField()}
    )

    @extend_schema(
        request={"multipart/form-data": Input, "application/json": Input},
        responses={202: Output},
        examples=[OpenApiExample("server folder", value={"server_path": "/data/imports/batch-07"}, request_only=True)],
    )
    def post(self, request, slug: str):
        """Import a manifest plus media into the campaign, as a job on the workers (all rows or none).
        Checks that can be made at once (not a zip, no manifest, zip-slip, path outside the import
        roots) answer 400/403 here; row problems fail the job with one line naming the row."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        archive, manifest = data.validated_data.get("archive"), data.validated_data.get("manifest")
        if archive is not None:
            member = archive_check(fileobj=archive, manifest=manifest)
            params: dict[str, str | None] = {
                "campaign": campaign.slug,
                "archive": archive_store(fileobj=archive),
                "manifest": member,
            }
        else:
            found = server_path_resolve(server_path=data.validated_data["server_path"], manifest=manifest)
            params = {"campaign": campaign.slug, "manifest": str(found), "media_root": None}
        job = job_create(kind="import_items", params=params, campaign=campaign, created_by=request.user)
        try:
            job_enqueue(job=job)
        except ServiceError:
            # Only with eager Celery (tests, no workers) does the job run inside this call. It failed on
            # a bad row and its row holds the one-line reason, just as a worker would have recorded it.
            pass
        return Response({"job_id": job.pk, "status_url": f"/api/v1/jobs/{job.pk}/"}, status=202)


class ItemListApi(APIView):
    """Items of a campaign for researchers and admins (never for annotators: it shows the golden flag)."""

    permission_classes = [IsResearcher]

    @extend_schema_serializer(component_name="CampaignItem")
    class Output(serializers.ModelSerializer):
        generator = serializers.CharField(source="generator.name")
        prompt = serializers.CharField(source="prompt.text")
        category = serializers.CharField(source="prompt.category")
        media_url = serializers.SerializerMethodField()
        thumbnail_url = serializers.SerializerMethodField()

        class Meta:
            model = Item
            fields = (
                "id",
                "item_id",
                "media_type",
                "generator",
                "prompt",
                "category",
                "width",
                "height",
                "duration",
                "fps",
                "sha256",
                "is_golden",
                "target",
                "active_count",
                "media_url",
                "thumbnail_url",
            )

        def get_media_url(self, item) -> str:
            return f"/api/v1/items/{item.pk}/media/"  # the access-checked media view (api/media.py)

        def get_thumbnail_url(self, item) -> str | None:
            return f"/api/v1/items/{item.pk}/thumbnail/" if item.thumbnail else None

    @extend_schema(
        parameters=[
            OpenApiParameter("media_type", enum=MediaType.values, required=False),
            OpenApiParameter("generator", str, required=False, description="Generator name."),
        ],
        responses=inline_serializer(
            "PaginatedCampaignItems",
            {
                "count": serializers.IntegerField(),
                "next": serializers.CharField(allow_null=True),
                "previous": serializers.CharField(allow_null=True),
                "results": Output(many=True),
            },
        ),
    )
    def get(self, request, slug: str):
        """Paginated (limit/offset), in import order."""
        campaign = campaign_get(slug=slug)
        items = campaign_items(
            campaign=campaign,
            media_type=request.query_params.get("media_type"),
            generator=request.query_params.get("generator"),
        )
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(self.Output(page, many=True).data)


urlpatterns = [
    path("campaigns/<slug:slug>/imports/", ImportStartApi.as_view(), name="api-import-start"),
    path("campaigns/<slug:slug>/items/", ItemListApi.as_view(), name="api-item-list"),
]
