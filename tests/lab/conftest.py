"""The pricing lab's tests tell their stories through the scenarios' operator and clock."""

from tests.scenarios.conftest import clock, operator  # noqa: F401
