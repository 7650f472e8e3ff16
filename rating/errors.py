"""The errors the rating engine raises: a bad input, or a charge an operator set up wrongly."""


class RatingError(ValueError):
    """An input the rating engine cannot price or count: negative, naive, not a number, unknown."""


class ChargeSpecError(RatingError):
    """A charge that cannot be priced as configured, with messages per field for the operator.

    `errors` maps a field name ("unit_amount", "tiers", ...) to the messages about it, ready to be
    shown beside that field in a form or returned as an API's field errors.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__(" ".join(m for messages in self.errors.values() for m in messages))
