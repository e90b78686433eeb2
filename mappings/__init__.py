"""The mapping language: how a desk's ticket fields are computed from the canonical model.

IT teams own mapping files; :func:`load_mapping` validates one completely before
anything runs, :func:`render_fields` computes the fields, :func:`preview` shows them
for a sample payload.
"""

from mappings.loader import (
    SHIPPED_MAPPINGS,
    CustomerValue,
    FieldSpec,
    Mapping,
    MappingError,
    MatchStrategy,
    load_mapping,
    load_mapping_text,
    resolve_mapping_path,
)
from mappings.preview import preview
from mappings.renderer import RenderError, build_context, render_fields

__all__ = [
    "SHIPPED_MAPPINGS",
    "CustomerValue",
    "FieldSpec",
    "Mapping",
    "MappingError",
    "MatchStrategy",
    "RenderError",
    "build_context",
    "load_mapping",
    "load_mapping_text",
    "preview",
    "render_fields",
    "resolve_mapping_path",
]
