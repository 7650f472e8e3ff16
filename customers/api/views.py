"""Views of the customers API: each validates with a serializer and calls one service/selector."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import PAGE_PARAMETERS, paginated, parse_id, query_choice, query_text
from catalog.models import Plan
from catalog.selectors import plan_get
from customers.api.lookups import customer_or_404
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
    customer_create,
    customer_update,
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
)


def _subscription_or_404(subscription_id: str) -> Subscription:
    number = parse_id(subscription_id)
    try:
        if number is None:
            raise Subscription.DoesNotExist
        return subscription_get(subscription_id=number)
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


class CustomerListView(APIView):
    paginated_list = True

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
            search=query_text(request, "search"),
            currency=query_text(request, "currency"),
        )
        return paginated(request, self, customers, CustomerSerializer)

    @extend_schema(request=CustomerInputSerializer, responses={201: CustomerSerializer})
    def post(self, request):
        serializer = CustomerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_create(**serializer.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(APIView):
    @extend_schema(responses=CustomerSerializer)
    def get(self, request, external_id: str):
        return Response(CustomerSerializer(customer_or_404(external_id)).data)

    @extend_schema(request=CustomerInputSerializer, responses=CustomerSerializer)
    def patch(self, request, external_id: str):
        customer = customer_or_404(external_id)
        serializer = CustomerInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        customer = customer_update(customer=customer, **serializer.validated_data)
        return Response(CustomerSerializer(customer).data)


class SubscriptionListView(APIView):
    paginated_list = True

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
        subscriptions = subscription_list(
            customer_external_id=query_text(request, "customer"),
            status=query_choice(request, "status", SubscriptionStatus.values),
            plan_code=query_text(request, "plan"),
        )
        return paginated(request, self, subscriptions, SubscriptionSerializer)

    @extend_schema(request=SubscriptionCreateSerializer, responses={201: SubscriptionSerializer})
    def post(self, request):
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        customer = _customer_in_body(fields["customer"])
        plan = _plan_in_body(fields["plan"], fields.get("plan_version"))
        at = timezone.now()
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
