"""Signals the metering app sends, so notifications can follow without metering importing it.

- entitlement_threshold_reached: kwargs alert (the EntitlementAlert written), at. Sent inside
  the transaction that writes the alert, once per grant, threshold and period.
"""

from django.dispatch import Signal

entitlement_threshold_reached = Signal()
