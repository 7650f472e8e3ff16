"""Customer admin: the list, and a customer page to subscribe, change plans and cancel."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from customers.admin.display import moment_text
from customers.admin.forms import (
    ApplyCouponForm,
    CancelForm,
    ChangePlanForm,
    CustomerAdminForm,
    SubscribeForm,
)
from customers.models import AppliedCoupon, Customer, Subscription, SubscriptionStatus
from customers.selectors import subscription_list
from customers.services import (
    EDITABLE_FIELDS,
    customer_create,
    customer_update,
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
)
from customers.services.coupons import customer_coupon_apply


class SubscriptionStatusFilter(admin.SimpleListFilter):
    """Customers by the status of their latest subscription (or none at all)."""

    title = "subscription"
    parameter_name = "subscription"

    def lookups(self, request, model_admin):
        return [
            ("live", "Live (trialing or active)"),
            *SubscriptionStatus.choices,
            ("none", "None"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(subscriptions__isnull=True)
        if value == "live":
            return queryset.filter(latest_status__in=["trialing", "active"])
        if value in SubscriptionStatus.values:
            return queryset.filter(latest_status=value)
        return queryset


def _form_errors(form, error: ValidationError) -> None:
    """Show a service's refusal on the form, on its field when the form has that field."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    change_form_template = "admin/customers/customer/change_form.html"
    list_display = [
        "external_id",
        "name",
        "email",
        "currency",
        "country",
        "latest_plan",
        "latest_status",
        "next_billing_at",
        "created_on",
    ]
    list_display_links = ["external_id", "name"]
    list_filter = [SubscriptionStatusFilter, "currency", "country"]
    search_fields = ["external_id", "name", "email", "tax_id"]
    ordering = ["name", "external_id"]
    fieldsets = [
        (None, {"fields": ["external_id", "name", "email"]}),
        (
            "Billing",
            {
                "fields": [
                    "currency",
                    "net_payment_terms_days",
                    "invoice_grace_period_hours",
                    "tax_id",
                ]
            },
        ),
        (
            "Billing address",
            {
                "fields": [
                    "address_line1",
                    "address_line2",
                    ("postal_code", "city"),
                    ("state", "country"),
                ]
            },
        ),
        (
            "Taxes",
            {
                "fields": ["tax_rates", "tax_exempt", "tax_exempt_reason"],
                "description": "The customer's tax rates replace its plan's; an exempt "
                "customer pays none and the reason is printed on its invoices.",
            },
        ),
        ("Metadata", {"fields": ["metadata"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        latest = Subscription.objects.filter(customer=OuterRef("pk")).order_by("-started_at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest_plan_code=Subquery(latest.values("plan__code")[:1]),
                latest_status=Subquery(latest.values("status")[:1]),
                latest_period_end=Subquery(latest.values("current_period_end")[:1]),
            )
        )

    @admin.display(description="Plan", ordering="latest_plan_code")
    def latest_plan(self, customer: Customer) -> str:
        return customer.latest_plan_code or "—"

    @admin.display(description="Status", ordering="latest_status")
    def latest_status(self, customer: Customer) -> str:
        return customer.latest_status or "—"

    @admin.display(description="Next billing", ordering="latest_period_end")
    def next_billing_at(self, customer: Customer) -> str:
        return moment_text(customer.latest_period_end)

    @admin.display(description="Created", ordering="created_at")
    def created_on(self, customer: Customer):
        return customer.created_at.date()

    def get_readonly_fields(self, request, obj=None):
        readonly = ["external_id"] if obj is not None else []
        if obj is not None and obj.subscriptions.exists():
            readonly.append("currency")  # billed in it already
        return readonly

    def save_model(self, request, obj, form, change):
        # Through the services, so the admin and the API keep the same rules.
        changed = {field: form.cleaned_data[field] for field in form.changed_data}
        changed = {field: value for field, value in changed.items() if field in EDITABLE_FIELDS}
        if change:
            saved = customer_update(customer=Customer.objects.get(pk=obj.pk), **changed)
        else:
            fields = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS if f in form.cleaned_data}
            fields.pop("name", None)
            saved = customer_create(
                external_id=form.cleaned_data["external_id"], name=obj.name, **fields
            )
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    # --- the subscriptions on the customer page ------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        customer = self.get_object(request, object_id)
        if customer is not None:
            extra_context["subscriptions"] = subscription_list(
                customer_external_id=customer.external_id
            )
            extra_context["can_add_subscription"] = request.user.has_perm(
                "customers.add_subscription"
            )
            extra_context["can_change_subscription"] = request.user.has_perm(
                "customers.change_subscription"
            )
            extra_context["can_apply_coupon"] = request.user.has_perm("customers.add_appliedcoupon")
            # Shown, not edited here: given through "Apply a coupon" (the service's checks).
            extra_context["applied_coupons"] = AppliedCoupon.objects.filter(
                customer=customer
            ).select_related("coupon")
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        custom = [
            path(
                "<path:object_id>/subscribe/",
                view(self.subscribe_view),
                name="customers_customer_subscribe",
            ),
            path(
                "<path:object_id>/subscriptions/<int:subscription_id>/change-plan/",
                view(self.change_plan_view),
                name="customers_customer_change_plan",
            ),
            path(
                "<path:object_id>/subscriptions/<int:subscription_id>/cancel/",
                view(self.cancel_view),
                name="customers_customer_cancel",
            ),
            path(
                "<path:object_id>/apply-coupon/",
                view(self.apply_coupon_view),
                name="customers_customer_apply_coupon",
            ),
        ]
        return custom + super().get_urls()

    def _customer_page(self, customer: Customer) -> str:
        return reverse("admin:customers_customer_change", args=[customer.pk])

    def _customer(self, request: HttpRequest, object_id: str, permission: str) -> Customer:
        """The customer of a subscription page, once the user may `permission` subscriptions."""
        if not request.user.has_perm(f"customers.{permission}_subscription"):
            raise PermissionDenied
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404("No such customer.")
        if not self.has_view_or_change_permission(request, customer):
            raise PermissionDenied
        return customer

    def _render(self, request, customer, form, *, title, subscription=None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "customer": customer,
            "subscription": subscription,
            "form": form,
            "customer_url": self._customer_page(customer),
        }
        return TemplateResponse(request, "admin/customers/subscription_action.html", context)

    def subscribe_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer = self._customer(request, object_id, "add")
        now = timezone.now()
        form = SubscribeForm(
            request.POST or None,
            currency=customer.currency,
            # Today at midnight UTC: a monthly plan's periods then read as dates, not 13:49.
            initial={"started_at": now.replace(hour=0, minute=0, second=0, microsecond=0)},
        )
        if request.method == "POST" and form.is_valid():
            try:
                subscription = subscription_create(
                    customer=customer,
                    plan=form.cleaned_data["plan"],
                    started_at=form.cleaned_data["started_at"],
                    anchor=form.cleaned_data["anchor"],
                    at=now,
                    ends_at=form.cleaned_data["ends_at"],
                    trial_days=form.cleaned_data["trial_days"],
                )
            except ValidationError as refusal:
                _form_errors(form, refusal)
            else:
                messages.success(request, self.subscribed_message(subscription))
                return HttpResponseRedirect(self._customer_page(customer))
        return self._render(request, customer, form, title=f"Subscribe {customer.name} to a plan")

    def subscribed_message(self, subscription: Subscription) -> str:
        """The success message of "Subscribe" (the console's admin adds the invoices made)."""
        return (
            f"Subscribed {subscription.customer.name} to {subscription.plan.name}: "
            f"subscription #{subscription.pk}."
        )

    def response_add(self, request, obj, post_url_continue=None):
        # A new customer is usually subscribed next: land on its page, not back on the list.
        if "_addanother" not in request.POST and "_popup" not in request.POST:
            messages.success(request, f"Customer {obj.name} created: subscribe them to a plan.")
            return HttpResponseRedirect(self._customer_page(obj))
        return super().response_add(request, obj, post_url_continue)

    def _subscription(self, customer: Customer, subscription_id: int) -> Subscription:
        return get_object_or_404(subscription_list().filter(customer=customer), pk=subscription_id)

    def change_plan_view(
        self, request: HttpRequest, object_id: str, subscription_id: int
    ) -> HttpResponse:
        customer = self._customer(request, object_id, "change")
        subscription = self._subscription(customer, subscription_id)
        form = ChangePlanForm(
            request.POST or None,
            currency=customer.currency,
            initial={"plan": subscription.plan},
        )
        preview = None
        if request.method == "POST" and form.is_valid() and "_preview" in request.POST:
            preview = self.change_plan_preview(
                subscription=subscription,
                plan=form.cleaned_data["plan"],
                effective_at=form.cleaned_data["effective_at"],
            )
        elif request.method == "POST" and form.is_valid():
            try:
                subscription_change_plan(
                    subscription=subscription,
                    plan=form.cleaned_data["plan"],
                    at=timezone.now(),
                    effective_at=form.cleaned_data["effective_at"],
                )
            except ValidationError as refusal:
                _form_errors(form, refusal)
            else:
                messages.success(
                    request, f"Subscription #{subscription.pk} is now recorded on the new plan."
                )
                return HttpResponseRedirect(self._customer_page(customer))
        title = f"Change the plan of subscription #{subscription.pk}"
        response = self._render(request, customer, form, title=title, subscription=subscription)
        response.context_data.update(preview=preview, can_preview=self.can_preview_changes)
        return response

    # The console's customer admin prices a change before it is made (it may read invoices).
    can_preview_changes = False

    def change_plan_preview(self, *, subscription, plan, effective_at) -> dict | None:
        return None

    def cancel_view(
        self, request: HttpRequest, object_id: str, subscription_id: int
    ) -> HttpResponse:
        customer = self._customer(request, object_id, "change")
        subscription = self._subscription(customer, subscription_id)
        form = CancelForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            at_period_end = form.cleaned_data["when"] == "period_end"
            try:
                subscription_cancel(
                    subscription=subscription, at_period_end=at_period_end, at=timezone.now()
                )
            except ValidationError as refusal:
                _form_errors(form, refusal)
            else:
                when = "at the end of its current period" if at_period_end else "now"
                messages.success(request, f"Subscription #{subscription.pk} is canceled {when}.")
                return HttpResponseRedirect(self._customer_page(customer))
        title = f"Cancel subscription #{subscription.pk}"
        return self._render(request, customer, form, title=title, subscription=subscription)

    def apply_coupon_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Give the customer a coupon (customers.services.coupons.customer_coupon_apply)."""
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404("No such customer.")
        if not request.user.has_perm("customers.add_appliedcoupon"):
            raise PermissionDenied
        form = ApplyCouponForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                customer_coupon_apply(
                    customer=customer, coupon=form.cleaned_data["coupon"], at=timezone.now()
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Coupon {form.cleaned_data['coupon']} applied.")
                return HttpResponseRedirect(self._customer_page(customer))
        return self._render(request, customer, form, title="Apply a coupon")
