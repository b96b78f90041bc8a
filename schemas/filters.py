"""Filters a client may attach to a query: a small typed grammar that the index renders to a Milvus expression.

Clients never send expressions. Fields are an allow-list (document fields, or ``metadata.<key>`` with the same key
rule as events), values are typed JSON scalars, and conditions are AND-ed; the tenant condition is added by the
server from the API key, outside anything a client controls.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    model_validator,
)

MAX_CONDITIONS = 16
MAX_VALUES = 64

FIELD_PATTERN = r"^(doc_id|title|version|metadata\.[A-Za-z_][A-Za-z0-9_]{0,63})$"
FilterField = Annotated[str, StringConstraints(pattern=FIELD_PATTERN)]
# No control characters: Milvus string literals know only the \" and \\ escapes.
FilterString = Annotated[str, StringConstraints(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
# Milvus compares 64-bit integers and finite doubles: a larger integer fails the search itself.
FilterInt = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
FilterFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]
FilterScalar = StrictBool | FilterInt | FilterFloat | FilterString
FilterValues = Annotated[list[FilterScalar], Field(min_length=1, max_length=MAX_VALUES)]
Operator = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains"]


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: FilterField
    op: Operator = "eq"
    value: FilterScalar | FilterValues

    @model_validator(mode="after")
    def _fits(self) -> Condition:
        is_list = isinstance(self.value, list)
        if (self.op in ("in", "not_in")) != is_list:
            raise ValueError(f"op {self.op!r} takes {'a list' if self.op in ('in', 'not_in') else 'one value'}")
        if self.op in ("lt", "lte", "gt", "gte") and (isinstance(self.value, bool | str)):
            raise ValueError(f"op {self.op!r} compares numbers")
        if self.op == "contains" and not self.field.startswith("metadata."):
            raise ValueError("op 'contains' applies to metadata lists")
        if self.field == "version" and any(not isinstance(v, int) or isinstance(v, bool)
                                           for v in (self.value if is_list else [self.value])):
            raise ValueError("version compares integers")
        return self


class QueryFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    all: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
