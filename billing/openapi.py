"""The OpenAPI schema's shared parts: the error answers every operation can give, list shapes."""

from drf_spectacular.openapi import AutoSchema

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
    "description": '{"detail": "…"}, or field errors {"<field>": ["message", ...]}.',
}
_ERROR_DESCRIPTIONS = {
    "400": "Invalid input: field errors or a detail message.",
    "401": "Missing, malformed, invalid or revoked API key.",
    "404": "No such resource.",
    "409": "Conflicts with the current state.",
    "413": "Request body too large.",
    "429": "Too many requests (see Retry-After).",
}


class TallyAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus what every operation can answer (docs/api.md "Errors").

    Each operation lists 400 (when it takes input), 401, 404 (when its path names a resource),
    409 (for writes) and 429; a list view (`paginated_list = True`) is an array or, with
    limit/offset, a page object.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        path_has_ids = "{" in self.path
        takes_input = bool(self.view and self.method in ("POST", "PUT", "PATCH")) or bool(
            self._get_parameters()
        )
        codes = ["401", "429"]
        if takes_input:
            codes.append("400")
        if path_has_ids:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes += ["409", "413"]
        for code in codes:
            responses.setdefault(
                code,
                {
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    "description": _ERROR_DESCRIPTIONS[code],
                },
            )
        if self.method == "GET" and getattr(self.view, "paginated_list", False):
            for media in responses.get("200", {}).get("content", {}).values():
                array = media["schema"]
                media["schema"] = {
                    "oneOf": [
                        array,
                        {
                            "type": "object",
                            "required": ["count", "results"],
                            "properties": {
                                "count": {"type": "integer"},
                                "next": {"type": "string", "format": "uri", "nullable": True},
                                "previous": {"type": "string", "format": "uri", "nullable": True},
                                "results": array,
                            },
                        },
                    ]
                }
        return responses
