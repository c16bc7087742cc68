"""OpenAPI schema generation (drf-spectacular) for the platform's APIs.

Views keep their serializers nested (`SomethingApi.Input` / `.Output`, the styleguide's habit). By
default drf-spectacular names components after the bare class name, so every `Input` collides with
every other `Input` and the schema silently shows one for all. Nested serializers are named after
their view instead: `BatchRequestApi.Input` -> `BatchRequestInput`.
"""
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        parts = type(serializer).__qualname__.split(".")
        if len(parts) > 1 and "<locals>" not in parts:
            return "".join(part.removesuffix("Api").removesuffix("View") for part in parts)
        return super().get_serializer_name(serializer, direction)
