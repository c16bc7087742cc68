"""API of the closed loop (training side): the screening scorer of a campaign, its predictions to filter
and sort by, admins' quick checks of held items, the agreement of scorer and humans as ratings arrive,
and the retraining policy with its rounds. Researchers and admins (item checks: admins)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.services.campaigns import campaign_get
from core.errors import InvalidInput
from core.permissions import IsAdmin, IsResearcher

from .selectors import retrain_overview, scorer_find
from .services.retraining import retrain_policy_set, retrain_tick
from .services.screening import (
    item_check_decide,
    predictions_list,
    screening_agreement,
    screening_get,
    screening_rescore,
    screening_set,
)


class ScreeningApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        scorer = serializers.IntegerField(
            allow_null=True, help_text="A registered scorer's id; null turns screening off."
        )
        hold_probability = serializers.FloatField(min_value=0, max_value=1, default=0.9)

    class Output(serializers.Serializer):
        scorer = serializers.IntegerField(allow_null=True)
        scorer_name = serializers.CharField(allow_null=True)
        hold_probability = serializers.FloatField(allow_null=True)

    @staticmethod
    def _out(policy) -> dict:
        return {
            "scorer": policy.scorer_id if policy else None,
            "scorer_name": policy.scorer.name if policy else None,
            "hold_probability": policy.hold_probability if policy else None,
        }

    @extend_schema(responses=Output, summary="A campaign's screening scorer")
    def get(self, request, slug: str):
        return Response(self._out(screening_get(campaign=campaign_get(slug=slug))))

    @extend_schema(request=Input, responses=Output, summary="Set (or turn off) the campaign's screening scorer")
    def put(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        scorer = None
        if data.validated_data["scorer"] is not None:
            scorer = scorer_find(scorer_id=data.validated_data["scorer"])
            if scorer is None:
                raise InvalidInput(f"scorer {data.validated_data['scorer']} does not exist or is inactive")
        policy = screening_set(
            campaign=campaign, scorer=scorer, hold_probability=data.validated_data["hold_probability"]
        )
        return Response(self._out(policy))


class ScreeningRescoreApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        request=None,
        responses={202: OpenApiTypes.OBJECT},
        summary="Queue every item the screening scorer has not scored yet",
    )
    def post(self, request, slug: str):
        return Response({"queued": screening_rescore(campaign=campaign_get(slug=slug))}, status=202)


class ScreeningAgreementApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        parameters=[OpenApiParameter("min_ratings", int, description="Items need this many approved ratings.")],
        responses=OpenApiTypes.OBJECT,
        summary="The screening scorer against the current human MOS",
    )
    def get(self, request, slug: str):
        try:
            min_ratings = max(int(request.query_params.get("min_ratings", 2)), 1)
        except ValueError:
            raise InvalidInput("min_ratings must be a whole number") from None
        return Response(screening_agreement(campaign=campaign_get(slug=slug), min_ratings=min_ratings))


class PredictionOutput(serializers.Serializer):
    item = serializers.IntegerField(source="item_id")
    item_id = serializers.CharField(source="item.item_id")
    generator = serializers.CharField(source="item.generator.name")
    media_type = serializers.CharField(source="item.media_type")
    dimension = serializers.CharField()
    prediction = serializers.FloatField()
    probs = serializers.DictField(child=serializers.FloatField())
    is_held = serializers.BooleanField(source="item.is_held")


class PredictionListApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        parameters=[
            OpenApiParameter("dimension", str, enum=["quality", "alignment"]),
            OpenApiParameter("order", str, enum=["prediction", "-prediction"]),
            OpenApiParameter("held", bool),
            OpenApiParameter("min", float),
            OpenApiParameter("max", float),
            OpenApiParameter("scorer", int, description="Default: the campaign's screening scorer."),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=PredictionOutput(many=True),
        summary="Items by the scorer's prediction (filter and sort)",
    )
    def get(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        q = request.query_params
        try:
            lo = float(q["min"]) if q.get("min") else None
            hi = float(q["max"]) if q.get("max") else None
        except ValueError:
            raise InvalidInput("min and max must be numbers") from None
        held_values: dict[str | None, bool | None] = {"true": True, "false": False, None: None, "": None}
        if q.get("held") not in held_values:
            raise InvalidInput("held must be true or false")
        held = held_values[q.get("held")]
        scorer = None
        if q.get("scorer"):
            scorer = scorer_find(scorer_id=q["scorer"] if q["scorer"].isdigit() else None, active_only=False)
            if scorer is None:
                raise InvalidInput(f"scorer {q['scorer']} does not exist")
        qs = predictions_list(
            campaign=campaign,
            scorer=scorer,
            dimension=q.get("dimension", "quality"),
            order=q.get("order", "prediction"),
            held=held,
            lo=lo,
            hi=hi,
        )
        paginator = LimitOffsetPagination()
        page: Any = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PredictionOutput(page, many=True).data)


class ItemCheckApi(APIView):
    permission_classes = [IsAdmin]

    class Input(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["release", "broken"])

    @extend_schema(
        request=Input,
        responses=OpenApiTypes.OBJECT,
        summary="An admin's quick check of a held item: release it to the pool, or confirm it broken",
    )
    def post(self, request, item_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        check = item_check_decide(item_id=item_id, decision=data.validated_data["decision"], user=request.user)
        return Response({"item": item_id, "status": check.status})


class RetrainPolicyApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        config = serializers.DictField(help_text="Scorer config for the training runs.")
        growth = serializers.FloatField(default=0.2)
        margin = serializers.FloatField(default=0.01)
        min_ratings = serializers.IntegerField(default=100, min_value=1)
        is_active = serializers.BooleanField(default=True)

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The retraining policy and its rounds")
    def get(self, request, slug: str):
        return Response(retrain_overview(campaign=campaign_get(slug=slug)))

    @extend_schema(request=Input, responses=OpenApiTypes.OBJECT, summary="Set the retraining policy")
    def put(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        retrain_policy_set(campaign=campaign, **data.validated_data)
        return Response(retrain_overview(campaign=campaign_get(slug=slug)))


class RetrainTickApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(
        request=None,
        responses=OpenApiTypes.OBJECT,
        summary="Move the retraining policy on now (start a round when due, or advance the open one)",
    )
    def post(self, request, slug: str):
        campaign = campaign_get(slug=slug)
        policy = getattr(campaign, "retrain_policy", None)
        if policy is None:
            raise InvalidInput(f"campaign {slug!r} has no retraining policy: PUT one first")
        rnd = retrain_tick(policy=policy)
        return Response(
            {"round": None if rnd is None else {"id": rnd.pk, "status": rnd.status, "message": rnd.message}}
        )


urlpatterns = [
    path("campaigns/<slug:slug>/screening/", ScreeningApi.as_view(), name="api-screening"),
    path("campaigns/<slug:slug>/screening/rescore/", ScreeningRescoreApi.as_view(), name="api-screening-rescore"),
    path("campaigns/<slug:slug>/screening/agreement/", ScreeningAgreementApi.as_view(), name="api-screening-agreement"),
    path("campaigns/<slug:slug>/predictions/", PredictionListApi.as_view(), name="api-predictions"),
    path("items/<int:item_id>/check/", ItemCheckApi.as_view(), name="api-item-check"),
    path("campaigns/<slug:slug>/retrain-policy/", RetrainPolicyApi.as_view(), name="api-retrain-policy"),
    path("campaigns/<slug:slug>/retrain-policy/tick/", RetrainTickApi.as_view(), name="api-retrain-tick"),
]
