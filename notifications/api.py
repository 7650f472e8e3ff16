"""The webhook endpoints API (docs/api.md, "Outgoing webhooks"): list, create (the secret is
answered once, at creation), read, change. An endpoint is switched off, never deleted through
the API: its delivery log stays."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.models import EVENT_TYPES, WebhookEndpoint
from notifications.services.webhooks import webhook_endpoint_create, webhook_endpoint_update

MAX_ENDPOINTS_LISTED = 1000


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "created_at"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="Empty or absent: every event type.",
    )
    is_active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


def _endpoint_or_404(endpoint_id: str) -> WebhookEndpoint:
    if not (endpoint_id.isascii() and endpoint_id.isdigit()) or len(endpoint_id) > 18:
        raise NotFound(f"Unknown webhook endpoint {endpoint_id}.")
    endpoint = WebhookEndpoint.objects.filter(pk=int(endpoint_id)).first()
    if endpoint is None:
        raise NotFound(f"Unknown webhook endpoint {endpoint_id}.")
    return endpoint


class WebhookEndpointListView(APIView):
    @extend_schema(
        summary="List webhook endpoints",
        responses=WebhookEndpointSerializer(many=True),
        tags=["webhooks"],
    )
    def get(self, request):
        endpoints = WebhookEndpoint.objects.order_by("id")[:MAX_ENDPOINTS_LISTED]
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        summary="Create a webhook endpoint (the answer carries its secret, once)",
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
        tags=["webhooks"],
    )
    def post(self, request):
        serializer = WebhookEndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(**serializer.validated_data)
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookEndpointDetailView(APIView):
    @extend_schema(
        summary="Read a webhook endpoint", responses=WebhookEndpointSerializer, tags=["webhooks"]
    )
    def get(self, request, endpoint_id: str):
        return Response(WebhookEndpointSerializer(_endpoint_or_404(endpoint_id)).data)

    @extend_schema(
        summary="Change a webhook endpoint (is_active: false switches it off)",
        request=WebhookEndpointInputSerializer,
        responses=WebhookEndpointSerializer,
        tags=["webhooks"],
    )
    def patch(self, request, endpoint_id: str):
        endpoint = _endpoint_or_404(endpoint_id)
        serializer = WebhookEndpointInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)
