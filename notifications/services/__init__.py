"""Services of the notifications app: webhooks (endpoints, outbox, delivery) and emails."""
