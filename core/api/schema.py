"""OpenAPI schema generation (drf-spectacular) for the platform's APIs.

Views keep their serializers nested (`SomethingApi.Input` / `.Output`, the styleguide's habit). By
default drf-spectacular names components after the bare class name, so every `Input` collides with
every other `Input` and the schema silently shows one for all. Nested serializers are named after
their view instead: `BatchRequestApi.Input` -> `BatchRequestInput`.
"""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class PreparedSessionScheme(SessionScheme):
    """core.api.auth.SessionAuthentication is DRF's session cookie authentication (drf-spectacular matches
    subclasses of DRF's token authentication by itself, not of its session authentication)."""

    target_class = "core.api.auth.SessionAuthentication"


# Views that paginate by hand (LimitOffsetPagination inside get()) while declaring `responses=X(many=True)`:
# the schema documents their answers as the {count, next, previous, results} page they really are.
PAGINATED_BY_HAND = frozenset(
    {"BatchListApi", "TrainingRunListApi", "ScorerListApi", "BenchmarkListApi", "GenerationJobListApi", "PromptListApi"}
)


class AutoSchema(SpectacularAutoSchema):
    def _get_paginator(self):
        paginator = super()._get_paginator()
        if paginator is None and type(self.view).__name__ in PAGINATED_BY_HAND and self.method == "GET":
            from rest_framework.pagination import LimitOffsetPagination

            return LimitOffsetPagination()
        return paginator

    def get_serializer_name(self, serializer, direction) -> str:
        parts = type(serializer).__qualname__.split(".")
        if len(parts) > 1 and "<locals>" not in parts:
            return "".join(part.removesuffix("Api").removesuffix("View") for part in parts)
        return super().get_serializer_name(serializer, direction)


# --- errors every operation can answer ---------------------------------------------------------------------

ERROR_COMPONENT = "ErrorDetail"
_ERRORS_ALWAYS = {
    "400": "Bad input: a parameter or the body is invalid (the reason is in `detail`).",
    "401": "No valid credentials (token or session).",
    "403": "Your role may not do this.",
    "404": "Not found, or not yours to see (the same answer for both).",
    "429": "Throttled, or a quota is used up (`Retry-After` says when to try again where known).",
    "500": "Internal error (logged; no traceback is shown).",
    "503": "The database or the task queue is unavailable right now (`Retry-After` seconds).",
}
_ERRORS_WRITE = {
    "409": "Conflicts with the current state (e.g. already rated, already finished).",
    "410": "Gone (e.g. a lease expired, an export removed by retention).",
    "413": "The request body is larger than QEVAL_MAX_UPLOAD_BYTES.",
    "415": "Unsupported media type of the request body.",
    "507": "Not enough free disk space for this job.",
}


def document_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every error the platform answers is `{"detail": reason}`
    (core/api/exception_handler.py), so each operation documents the error statuses it can answer
    with that schema, beside the statuses its view declares. Media views answer errors as JSON too."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = {
        "type": "object",
        "properties": {"detail": {"type": "string", "description": "What went wrong, in words."}},
        "required": ["detail"],
    }
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for answer in responses.values():
                # Media views answer the file's own type (image/png, video/mp4, ...), not a fixed one.
                content = answer.get("content") or {}
                if "application/octet-stream" in content:
                    content["*/*"] = content.pop("application/octet-stream")
            errors = dict(_ERRORS_ALWAYS)
            if method != "get":
                errors.update(_ERRORS_WRITE)
            for status, description in errors.items():
                documented = responses.get(status)
                if documented is None or not documented.get("content"):
                    responses[status] = {
                        "description": (documented or {}).get("description") or description,
                        "content": {"application/json": {"schema": ref}},
                    }
    return result
