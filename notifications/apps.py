from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What Tally tells the outside world: signed outgoing webhooks and customer emails.

    It sits at the top of the layers (it may import every billing app; none imports it) and
    hears the lower apps through their Django signals (notifications/events.py)."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from django.db.models.signals import post_migrate

        from notifications.events import routes_connect
        from notifications.services.emails import email_templates_ensure

        routes_connect()
        post_migrate.connect(
            lambda sender, using="default", **kwargs: (
                email_templates_ensure(using=using) if sender.label == "notifications" else None
            ),
            weak=False,
            dispatch_uid="notifications.email_templates",
        )
