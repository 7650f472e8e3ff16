"""Views of the customers API: each validates with a serializer and calls one service/selector."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import Conflict
from catalog.models import Plan
from catalog.selectors import plan_get
from customers.api.serializers import (
    CustomerInputSerializer,
    CustomerSerializer,
    SubscriptionCancelSerializer,
    SubscriptionChangePlanSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
)
from customers.models import Customer, Subscription, SubscriptionStatus
from customers.selectors import customer_get, customer_list, subscription_get, subscription_list
from customers.services import (
    StateConflict,
    customer_create,
    customer_update,
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
)


class ListPagination(LimitOffsetPagination):
    """A plain list by default; `?limit=&offset=` gives a page with count, next and previous."""

    max_limit = 1000


@contextmanager
def conflicts_as_409() -> Iterator[None]:
    try:
        yield
    except StateConflict as conflict:
        raise Conflict(" ".join(conflict.messages)) from None


def _customer_or_404(external_id: str) -> Customer:
    try:
        return customer_get(external_id=external_id)
    except Customer.DoesNotExist:
        raise NotFound(f"Unknown customer '{external_id}'.") from None


def _subscription_or_404(subscription_id: str) -> Subscription:
    try:
        # Anything but a plain id that fits a bigint is simply not found (never a 500).
        if (
            not (subscription_id.isascii() and subscription_id.isdigit())
            or len(subscription_id) > 18
        ):
            raise Subscription.DoesNotExist
        return subscription_get(subscription_id=int(subscription_id))
    except Subscription.DoesNotExist:
        raise NotFound(f"Unknown subscription {subscription_id}.") from None


def _customer_in_body(external_id: str) -> Customer:
    try:
        return customer_get(external_id=external_id)
    except Customer.DoesNotExist:
        raise serializers.ValidationError(
            {"customer": [f"Unknown customer '{external_id}'."]}
        ) from None


def _plan_in_body(code: str, version: int | None) -> Plan:
    try:
        return plan_get(code=code, version=version)
    except Plan.DoesNotExist:
        message = (
            f"Unknown plan '{code}'."
            if version is None
            else f"Plan '{code}' has no version {version}."
        )
        raise serializers.ValidationError({"plan": [message]}) from None


def _paginated(request, view, items, serializer_class) -> Response:
    paginator = ListPagination()
    page = paginator.paginate_queryset(items, request, view=view)
    if page is None:
        return Response(serializer_class(items, many=True).data)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size; without it, the whole list."),
    OpenApiParameter("offset", int),
]


class CustomerListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="In external id, name, email, tax id."),
            OpenApiParameter("currency", str),
            *PAGE_PARAMETERS,
        ],
        responses=CustomerSerializer(many=True),
    )
    def get(self, request):
        customers = customer_list(
            search=request.query_params.get("search", "").strip(),
            currency=request.query_params.get("currency", "").strip(),
        )
        return _paginated(request, self, customers, CustomerSerializer)

    @extend_schema(request=CustomerInputSerializer, responses={201: CustomerSerializer})
    def post(self, request):
        serializer = CustomerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with conflicts_as_409():
            customer = customer_create(**serializer.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(APIView):
    @extend_schema(responses=CustomerSerializer)
    def get(self, request, external_id: str):
        return Response(CustomerSerializer(_customer_or_404(external_id)).data)

    @extend_schema(request=CustomerInputSerializer, responses=CustomerSerializer)
    def patch(self, request, external_id: str):
        customer = _customer_or_404(external_id)
        serializer = CustomerInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        customer = customer_update(customer=customer, **serializer.validated_data)
        return Response(CustomerSerializer(customer).data)


class SubscriptionListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("customer", str, description="A customer's external id."),
            OpenApiParameter("status", str, enum=SubscriptionStatus.values),
            OpenApiParameter("plan", str, description="A plan code."),
            *PAGE_PARAMETERS,
        ],
        responses=SubscriptionSerializer(many=True),
    )
    def get(self, request):
        status_filter = request.query_params.get("status", "").strip()
        if status_filter and status_filter not in SubscriptionStatus.values:
            choices = ", ".join(SubscriptionStatus.values)
            raise serializers.ValidationError(
                {"status": [f"Unknown status '{status_filter}': choose one of {choices}."]}
            )
        subscriptions = subscription_list(
            customer_external_id=request.query_params.get("customer", "").strip(),
            status=status_filter,
            plan_code=request.query_params.get("plan", "").strip(),
        )
        return _paginated(request, self, subscriptions, SubscriptionSerializer)

    @extend_schema(request=SubscriptionCreateSerializer, responses={201: SubscriptionSerializer})
    def post(self, request):
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        customer = _customer_in_body(fields["customer"])
        plan = _plan_in_body(fields["plan"], fields.get("plan_version"))
        at = timezone.now()
        with conflicts_as_409():
            subscription = subscription_create(
                customer=customer,
                plan=plan,
                started_at=fields.get("started_at", at),
                anchor=fields.get("anchor", "anniversary"),
                at=at,
                ends_at=fields.get("ends_at"),
                trial_days=fields.get("trial_days"),
                metadata=fields.get("metadata"),
            )
        subscription = subscription_get(subscription_id=subscription.pk)
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


class SubscriptionDetailView(APIView):
    @extend_schema(responses=SubscriptionSerializer)
    def get(self, request, subscription_id: str):
        return Response(SubscriptionSerializer(_subscription_or_404(subscription_id)).data)


class SubscriptionChangePlanView(APIView):
    @extend_schema(request=SubscriptionChangePlanSerializer, responses=SubscriptionSerializer)
    def post(self, request, subscription_id: str):
        subscription = _subscription_or_404(subscription_id)
        serializer = SubscriptionChangePlanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        plan = _plan_in_body(fields["plan"], fields.get("plan_version"))
        subscription_change_plan(
            subscription=subscription,
            plan=plan,
            at=timezone.now(),
            effective_at=fields.get("at"),
        )
        return Response(
            SubscriptionSerializer(subscription_get(subscription_id=subscription.pk)).data
        )


class SubscriptionCancelView(APIView):
    @extend_schema(request=SubscriptionCancelSerializer, responses=SubscriptionSerializer)
    def post(self, request, subscription_id: str):
        subscription = _subscription_or_404(subscription_id)
        serializer = SubscriptionCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription_cancel(
            subscription=subscription,
            at_period_end=serializer.validated_data["at_period_end"],
            at=timezone.now(),
        )
        return Response(
            SubscriptionSerializer(subscription_get(subscription_id=subscription.pk)).data
        )
