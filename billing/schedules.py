"""Tally's recurring django-q2 schedules, created idempotently (update_or_create by name)."""

from django_q.models import Schedule

# name → (task path, minutes between runs)
SCHEDULES = {
    "close-cycles": ("invoices.tasks.close_cycles_task", 1),
    "verify-invoices": ("invoices.tasks.verify_invoices_task", 24 * 60),
    "render-missing-invoice-pdfs": ("invoices.document_tasks.render_missing_pdfs_task", 10),
    # Retries of outgoing webhooks whose next attempt is due (first attempts go on commit).
    "deliver-webhooks": ("notifications.tasks.webhooks_deliver_due_task", 1),
    "trial-ending-emails": ("notifications.tasks.trial_ending_reminders_task", 60),
    # Dunning: failed payments whose retry is due (PAYMENT_RETRY_DAYS), unanswered attempts.
    "retry-payments": ("payments.tasks.retry_payments_task", 15),
    "refresh-usage-rollups": ("metering.tasks.refresh_rollups_task", 1),
    # PostgreSQL: the events table's monthly partitions, the current month and 3 ahead.
    "event-partitions": ("metering.tasks.event_partitions_task", 24 * 60),
    # Wallet credits past their expiry date are written off (finalization also does it first).
    "expire-wallet-credits": ("customers.tasks.expire_wallet_credits_task", 15),
    # Usage alerts of feature grants (80 %, 100 % of a limit), once per period each.
    "entitlement-alerts": ("metering.tasks.entitlement_alerts_task", 1),
    # Revenue schedules of credit notes and voids, and any issued invoice missed.
    "revenue-sync": ("finance.tasks.revenue_sync_task", 10),
    # EVENTS_BACKEND=clickhouse: the outbox's events to ClickHouse (a no-op otherwise).
    "sync-clickhouse": ("metering.tasks.sync_clickhouse_task", 1),
}


def schedules_ensure() -> list[tuple[str, bool]]:
    results = []
    for name, (func, minutes) in SCHEDULES.items():
        _, created = Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
        results.append((name, created))
    return results
