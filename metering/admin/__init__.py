"""Admin of the metering app: the event debugger and the usage explorer."""

from metering.admin.events import EventAdmin

__all__ = ["EventAdmin"]
