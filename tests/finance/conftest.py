"""Finance test fixtures: staff users in each role."""

import pytest
from django.contrib.auth.models import Group, User

from billing.roles import BILLING_ADMIN, BILLING_OPERATOR, FINANCE_VIEWER


def _staff(role: str) -> User:
    user = User.objects.create_user(username=role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def finance_viewer(db) -> User:
    return _staff(FINANCE_VIEWER)


@pytest.fixture
def billing_admin(db) -> User:
    return _staff(BILLING_ADMIN)


@pytest.fixture
def billing_operator(db) -> User:
    return _staff(BILLING_OPERATOR)
