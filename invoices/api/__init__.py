"""The invoices API (DESIGN §4): invoices, a usage line's events, actions, the upcoming invoice."""
