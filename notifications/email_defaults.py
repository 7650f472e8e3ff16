"""The shipped text of each customer email (the operator edits a copy in the admin: Notifications
→ Email templates). Subject and body are Django templates; `company` is always there."""

from notifications.models import EmailKind

# kind → (subject, body, variables the template may use, beside `company`)
DEFAULTS: dict[str, tuple[str, str, str]] = {
    EmailKind.INVOICE_FINALIZED: (
        "Invoice {{ doc.number }} from {{ company.name }}",
        """Hello {{ doc.customer_name }},

Your invoice {{ doc.number }} from {{ company.name }} is ready.

Amount due: {{ doc.amount_due }}{% if doc.due_date %}
Due date:   {{ doc.due_date }}{% endif %}{% if doc.period %}
Period:     {{ doc.period }}{% endif %}

View it online: {{ hosted_url }}
The PDF is attached to this email.

Questions? Reply to this email or write to {{ company.email }}.

{{ company.name }}
""",
        "doc (the invoice as printed: number, customer_name, amount_due, due_date, period, "
        "total), hosted_url, pdf_url",
    ),
    EmailKind.PAYMENT_FAILED: (
        "Payment for invoice {{ invoice.number }} failed",
        """Hello {{ customer.name }},

We could not collect the payment of {{ payment.amount }} {{ payment.currency }} for invoice
{{ invoice.number }}.{% if payment.failure_message %}
Reason: {{ payment.failure_message }}{% endif %}

Please update your payment details or pay online: {{ hosted_url }}

{{ company.name }}
""",
        "customer, payment (amount, currency, failure_message), invoice (number, amount_due), "
        "hosted_url",
    ),
    EmailKind.PAYMENT_SUCCEEDED: (
        "Payment received for invoice {{ invoice.number }}",
        """Hello {{ customer.name }},

Thank you: we received your payment of {{ payment.amount }} {{ payment.currency }} for
invoice {{ invoice.number }}.

Your invoice: {{ hosted_url }}

{{ company.name }}
""",
        "customer, payment (amount, currency), invoice (number, amount_due), hosted_url",
    ),
    EmailKind.QUOTA_WARNING: (
        "You have used {{ percent }}% of your {{ feature }}",
        """Hello {{ customer.name }},

You have used {{ usage }} of the {{ limit }} {{ feature }} included in your plan this
period ({{ percent }}%).{% if period_end %} The allowance renews on
{{ period_end|date:"M j, Y" }}.{% endif %}

{{ company.name }}
""",
        "customer, feature, usage, limit, percent, period_end",
    ),
    EmailKind.TRIAL_ENDING: (
        'Your {{ plan.name }} trial ends on {{ subscription.trial_ends_at|date:"M j, Y" }}',
        """Hello {{ customer.name }},

Your trial of {{ plan.name }} ends on {{ subscription.trial_ends_at|date:"M j, Y" }}. Billing
starts then; nothing to do if you want to keep it.

{{ company.name }}
""",
        "customer, subscription (trial_ends_at, current_period_end), plan (name, code)",
    ),
    EmailKind.SUBSCRIPTION_CREATED: (
        "Welcome to {{ plan.name }}",
        """Hello {{ customer.name }},

Your subscription to {{ plan.name }} has started{% if subscription.trial_ends_at %}, with a
trial until {{ subscription.trial_ends_at|date:"M j, Y" }}{% endif %}.
{% if subscription.current_period_end %}The current billing period ends on
{{ subscription.current_period_end|date:"M j, Y" }}.{% endif %}

{{ company.name }}
""",
        "customer, subscription (started_at, trial_ends_at, current_period_end), plan",
    ),
    EmailKind.SUBSCRIPTION_CANCELED: (
        "Your {{ plan.name }} subscription is canceled",
        """Hello {{ customer.name }},

Your subscription to {{ plan.name }} is canceled{% if subscription.cancel_at %} and ends on
{{ subscription.cancel_at|date:"M j, Y" }}{% elif subscription.ended_at %} as of
{{ subscription.ended_at|date:"M j, Y" }}{% endif %}. Usage up to then is billed on your last
invoice.

{{ company.name }}
""",
        "customer, subscription (cancel_at, ended_at), plan",
    ),
    EmailKind.WALLET_LOW_BALANCE: (
        "Your {{ company.name }} credit balance is low",
        """Hello {{ customer.name }},

Your prepaid credit balance is {{ balance }}, below the {{ threshold }} you asked us to warn
you about. Usage is paid from these credits first: top up to keep it that way.

{{ company.name }}
""",
        "customer, wallet (currency), balance, threshold",
    ),
}

# kind → (button label, context variable holding its URL) in the HTML version.
ACTIONS = {
    EmailKind.INVOICE_FINALIZED: ("View invoice", "hosted_url"),
    EmailKind.PAYMENT_FAILED: ("Pay invoice", "hosted_url"),
    EmailKind.PAYMENT_SUCCEEDED: ("View invoice", "hosted_url"),
}
