"""Webhook endpoints and deliveries for researchers and admins. The secret appears in one answer only: the
one that created the endpoint or rotated its secret."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.services.campaigns import campaign_get
from core.permissions import IsResearcher

from . import selectors
from .models import Delivery, Endpoint, Event
from .services import (
    delivery_get,
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_get,
    endpoint_rotate_secret,
    endpoint_update,
)


class EndpointOutput(serializers.ModelSerializer):
    campaign = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Endpoint
        fields = ("id", "campaign", "url", "events", "description", "is_active", "created_at")


class EndpointCreatedOutput(EndpointOutput):
    secret = serializers.CharField(help_text="Shown in this answer only: keep it to verify X-QEval-Signature.")

    class Meta(EndpointOutput.Meta):
        fields = (*EndpointOutput.Meta.fields, "secret")


class DeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = (
            "id",
            "uid",
            "endpoint",
            "event",
            "status",
            "attempts",
            "response_status",
            "response_ms",
            "response_body",
            "error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "replay_of",
            "payload",
        )


class EndpointListApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        url = serializers.CharField(max_length=500)
        events = serializers.ListField(child=serializers.ChoiceField(choices=Event.values), min_length=1)
        description = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    @extend_schema(responses=EndpointOutput(many=True))
    def get(self, request, slug: str):
        """The campaign's webhook endpoints (without their secrets)."""
        return Response(EndpointOutput(selectors.endpoint_list(campaign=campaign_get(slug=slug)), many=True).data)

    @extend_schema(request=Input, responses={201: EndpointCreatedOutput})
    def post(self, request, slug: str):
        """Register an endpoint for some events; the answer carries its secret, once."""
        campaign = campaign_get(slug=slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = endpoint_create(campaign=campaign, user=request.user, **data.validated_data)
        return Response({**EndpointOutput(endpoint).data, "secret": secret}, status=201)


class EndpointDetailApi(APIView):
    permission_classes = [IsResearcher]

    class Input(serializers.Serializer):
        url = serializers.CharField(max_length=500, required=False)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=Event.values), required=False, min_length=1
        )
        description = serializers.CharField(required=False, allow_blank=True, max_length=200)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(responses=EndpointOutput)
    def get(self, request, endpoint_id: int):
        return Response(EndpointOutput(endpoint_get(endpoint_id=endpoint_id)).data)

    @extend_schema(request=Input, responses=EndpointOutput)
    def patch(self, request, endpoint_id: int):
        """Change the URL, events, description, or switch it off and on."""
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=endpoint_get(endpoint_id=endpoint_id), **data.validated_data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id: int):
        endpoint_delete(endpoint=endpoint_get(endpoint_id=endpoint_id))
        return Response(status=204)


class EndpointSecretApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=EndpointCreatedOutput)
    def post(self, request, endpoint_id: int):
        """A new secret (the old one stops working at once); shown in this answer only."""
        endpoint = endpoint_get(endpoint_id=endpoint_id)
        secret = endpoint_rotate_secret(endpoint=endpoint)
        return Response({**EndpointOutput(endpoint).data, "secret": secret})


class DeliveryListApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=DeliveryOutput(many=True))
    def get(self, request, endpoint_id: int):
        """The endpoint's last 100 deliveries, newest first: status, attempts, response status and time."""
        endpoint = endpoint_get(endpoint_id=endpoint_id)
        rows = selectors.delivery_list(campaign=endpoint.campaign, endpoint_id=endpoint.pk)
        return Response(DeliveryOutput(rows, many=True).data)


class DeliveryReplayApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses={202: DeliveryOutput})
    def post(self, request, delivery_id: int):
        """Send a delivery's event again (a new delivery with the same data)."""
        again = delivery_replay(delivery=delivery_get(delivery_id=delivery_id))
        return Response(DeliveryOutput(again).data, status=202)


urlpatterns = [
    path("campaigns/<slug:slug>/webhooks/", EndpointListApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:endpoint_id>/", EndpointDetailApi.as_view(), name="api-webhook"),
    path("webhooks/<int:endpoint_id>/secret/", EndpointSecretApi.as_view(), name="api-webhook-secret"),
    path("webhooks/<int:endpoint_id>/deliveries/", DeliveryListApi.as_view(), name="api-webhook-deliveries"),
    path("webhook-deliveries/<int:delivery_id>/replay/", DeliveryReplayApi.as_view(), name="api-webhook-replay"),
]
