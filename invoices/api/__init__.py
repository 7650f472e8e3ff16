"""The invoices API (docs/api.md): invoices, a line's events, actions, upcoming invoice, usage."""
