"""The event debugger's reads: why an event counts, or why it does not.

An event counts for a meter when the meter listens to its name, its filters match, and (for
numeric aggregations) its field holds a number. It is billed when its customer exists and has
a subscription covering its timestamp. Whether a meter counts an event is asked of the
database (the same `meter_events` the usage selectors use); Python only words the reason.
"""

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import models
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from catalog.models import Aggregation, Meter
from customers.models import Customer, Subscription
from customers.selectors import subscription_plan_at
from metering.models import Event
from metering.properties import (
    MISSING,
    filter_value_text,
    property_lookup,
    value_as_number,
    value_as_text,
)
from metering.selectors.usage import NUMERIC_AGGREGATIONS, meter_condition, meter_events


class EventStatus(models.TextChoices):
    """The debugger's status of an event (computed, not stored)."""

    COUNTED = "counted", "Counted and billed"
    NO_METER = "no_meter", "Not counted: no meter for its name"
    NOT_COUNTED = "not_counted", "Not counted: refused by its meters (filter or field)"
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    NO_SUBSCRIPTION = "no_subscription", "Customer without a subscription then"
    LATE = "late", "Late (its period's invoice was final)"


def _covering_subscriptions() -> QuerySet[Subscription]:
    """Subscriptions of the outer event's customer billing at its timestamp."""
    moment = OuterRef("timestamp")
    return Subscription.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=moment),
        Q(ends_at__isnull=True) | Q(ends_at__gt=moment),
        Q(cancel_at__isnull=True) | Q(cancel_at__gt=moment),
        started_at__lte=moment,
        customer__external_id=OuterRef("external_customer_id"),
    )


def _counted_by_any_meter(meters: list[Meter]) -> Case:
    """True when some meter counts the event: a condition on the row itself (never NULL), so
    the database evaluates it only for the rows it returns, without scanning for each meter."""
    condition = Q(pk__in=[])
    for meter in meters:
        condition |= meter_condition(meter=meter)
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def events_with_status(*, events: QuerySet[Event]) -> QuerySet[Event]:
    """`events` annotated with what the debugger list shows (see `event_status`)."""
    meters = list(Meter.objects.all())
    customers = Customer.objects.filter(external_id=OuterRef("external_customer_id"))
    return events.annotate(
        customer_pk=Subquery(customers.values("pk")[:1]),
        has_meter=Exists(Meter.objects.filter(event_name=OuterRef("event_name"))),
        counted=_counted_by_any_meter(meters),
        subscribed=Exists(_covering_subscriptions()),
    )


def event_status(*, event: Event) -> str:
    """The status of an event annotated by `events_with_status`."""
    if event.is_late:
        return EventStatus.LATE
    if not event.has_meter:
        return EventStatus.NO_METER
    if not event.counted:
        return EventStatus.NOT_COUNTED
    if event.customer_pk is None:
        return EventStatus.UNKNOWN_CUSTOMER
    if not event.subscribed:
        return EventStatus.NO_SUBSCRIPTION
    return EventStatus.COUNTED


def events_filter_status(*, events: QuerySet[Event], status: str) -> QuerySet[Event]:
    """The events having one status condition (the debugger's status filter)."""
    known_customer = Exists(Customer.objects.filter(external_id=OuterRef("external_customer_id")))
    subscribed = Exists(_covering_subscriptions())
    counted = events.alias(status_counted=_counted_by_any_meter(list(Meter.objects.all())))
    if status == EventStatus.LATE:
        return events.filter(is_late=True)
    if status == EventStatus.NO_METER:
        # The metered names are few: a list the database checks per row, not a subquery.
        return events.exclude(
            event_name__in=list(Meter.objects.values_list("event_name", flat=True))
        )
    if status == EventStatus.NOT_COUNTED:
        names = list(Meter.objects.values_list("event_name", flat=True))
        return counted.filter(event_name__in=names, status_counted=False)
    if status == EventStatus.UNKNOWN_CUSTOMER:
        return events.filter(~known_customer)
    if status == EventStatus.NO_SUBSCRIPTION:
        return events.filter(known_customer).exclude(subscribed)
    if status == EventStatus.COUNTED:
        return counted.filter(subscribed, status_counted=True)
    return events


def events_status_since(*, events: QuerySet[Event], newest: int) -> datetime | None:
    """When the `newest`-th most recent of `events` was received: the debugger's status filters
    search no further back, so a filter matching nothing reads at most that many events
    (docs/performance.md). None when there are fewer events: all of them are searched.

    One read of `newest` index entries in `received_at` order, whatever the table's size."""
    received = events.order_by("-received_at").values_list("received_at", flat=True)
    return next(iter(received[newest - 1 : newest]), None)


@dataclass(frozen=True)
class MeterVerdict:
    """What one meter listening to the event's name makes of it."""

    meter: Meter
    counted: bool
    reason: str
    value: Decimal | str | None = None
    charged: bool | None = None  # its plan then has a charge on this meter (None: no plan)


@dataclass(frozen=True)
class EventDiagnosis:
    """Everything the debugger says about one event."""

    event: Event
    verdicts: list[MeterVerdict]
    customer: Customer | None
    subscription: Subscription | None
    status: str
    reasons: list[str] = field(default_factory=list)
    similar_event_names: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return EventStatus(self.status).label


def event_diagnose(*, event: Event) -> EventDiagnosis:
    """Which meters the event feeds, whether its customer exists and is subscribed, and why
    it is not counted when it is not."""
    meters = list(Meter.objects.filter(event_name=event.event_name).order_by("code"))
    customer = Customer.objects.filter(external_id=event.external_customer_id).first()
    subscription = None
    charged_meter_ids: set[int] | None = None
    if customer is not None:
        subscription = _subscription_covering(customer, event.timestamp)
        if subscription is not None:
            plan = subscription_plan_at(subscription=subscription, at=event.timestamp)
            charged_meter_ids = set(plan.charges.values_list("meter_id", flat=True))

    verdicts = []
    for meter in meters:
        counted = meter_events(meter=meter).filter(pk=event.pk).exists()
        reason, value = _meter_reason(meter, event.properties, counted=counted)
        charged = None if charged_meter_ids is None else meter.pk in charged_meter_ids
        verdicts.append(MeterVerdict(meter, counted, reason, value, charged))

    reasons = []
    similar: list[str] = []
    if not meters:
        known_names = sorted(set(Meter.objects.values_list("event_name", flat=True)))
        similar = difflib.get_close_matches(event.event_name, known_names, n=3, cutoff=0.6)
        reasons.append(f"No meter listens to the event name {event.event_name!r}.")
    elif not any(verdict.counted for verdict in verdicts):
        reasons.append("Every meter listening to this event name refuses it (see below).")
    if customer is None:
        reasons.append(
            f"No customer has the external id {event.external_customer_id!r} (yet): the event "
            "is kept and counts as soon as the customer exists."
        )
    elif subscription is None:
        reasons.append(
            f"Customer {customer.external_id!r} has no subscription covering "
            f"{event.timestamp.isoformat()}: its usage is not billed."
        )
    elif any(verdict.counted for verdict in verdicts) and not any(
        verdict.counted and verdict.charged for verdict in verdicts
    ):
        reasons.append(
            f"The plan {subscription.plan.code!r} has no charge on the meters counting it."
        )
    if event.is_late:
        reasons.append("Late: it arrived after the invoice of its period was finalized.")
    if event.excluded_at is not None:
        reasons.insert(
            0,
            f"Excluded from billing by {event.excluded_by or 'an operator'} at "
            f"{event.excluded_at.isoformat()}: {event.excluded_reason}",
        )

    status = _diagnosis_status(event, meters, verdicts, customer, subscription)
    return EventDiagnosis(event, verdicts, customer, subscription, status, reasons, similar)


def _subscription_covering(customer: Customer, moment: datetime) -> Subscription | None:
    for subscription in customer.subscriptions.select_related("plan").order_by("-started_at"):
        stops = [
            at
            for at in (subscription.ended_at, subscription.ends_at, subscription.cancel_at)
            if at is not None
        ]
        if subscription.started_at <= moment and all(moment < stop for stop in stops):
            return subscription
    return None


def _diagnosis_status(event, meters, verdicts, customer, subscription) -> str:
    if event.is_late:
        return EventStatus.LATE
    if not meters:
        return EventStatus.NO_METER
    if not any(verdict.counted for verdict in verdicts):
        return EventStatus.NOT_COUNTED
    if customer is None:
        return EventStatus.UNKNOWN_CUSTOMER
    if subscription is None:
        return EventStatus.NO_SUBSCRIPTION
    return EventStatus.COUNTED


def _meter_reason(meter: Meter, properties: object, *, counted: bool) -> tuple[str, object]:
    """Why the meter counts the event or not, in words, and the value it reads."""
    for prop, allowed in sorted((meter.filters or {}).items()):
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        wanted = [filter_value_text(value) for value in values]
        found = value_as_text(property_lookup(properties, prop))
        if found not in wanted:
            shown = "missing" if found is None else repr(found)
            return f"Filtered out: {prop} is {shown}, not one of {', '.join(wanted)}.", None
    if meter.aggregation == Aggregation.COUNT:
        return ("Counted (+1)." if counted else "Not counted."), None
    raw = property_lookup(properties, meter.field)
    if raw is MISSING or raw is None:
        return f"Not counted: the property {meter.field!r} is missing.", None
    if meter.aggregation == Aggregation.UNIQUE_COUNT:
        text = value_as_text(raw)
        return (f"Counted: {meter.field} = {text!r}." if counted else "Not counted."), text
    number = value_as_number(raw)
    if meter.aggregation in NUMERIC_AGGREGATIONS and number is None:
        return f"Not counted: {meter.field} = {value_as_text(raw)!r} is not a number.", None
    if meter.aggregation in NUMERIC_AGGREGATIONS and number < 0:
        return f"Not counted: {meter.field} = {number} is negative (usage is never negative).", None
    if counted:
        return f"Counted: {meter.field} = {number} ({meter.get_aggregation_display()}).", number
    return "Not counted.", None
