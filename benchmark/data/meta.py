"""A feature store's ``meta.json`` as a typed record: the fields and types every reader relies on.

Stores come from other people (``avbench extract`` on someone's corpus, a store shared for a submission), so the
file is checked before anything reads it: a wrong type is one error line naming the file and the field, never a
traceback deep inside a reader. Fields avbench does not read (extraction settings, failure counts, attribution, …)
are kept as they are. ``avbench schema meta`` prints the JSON Schema.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from avbench.errors import validated

Text = Annotated[StrictStr, Field(min_length=1)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class ModalitySpec(BaseModel):
    """How one modality's frames are stored: ``total`` frames of ``shape`` and float ``dtype``, at ``rate`` per
    second (0 for words, which carry their own times)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    shape: Annotated[list[Annotated[StrictInt, Field(gt=0)]], Field(min_length=1)]
    dtype: Text
    total: Annotated[StrictInt, Field(ge=0)]
    rate: Annotated[Number, Field(ge=0)] = 0.0

    @field_validator("dtype")
    @classmethod
    def _float_dtype(cls, dtype: str) -> str:
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = ""
        if kind != "f":
            raise ValueError("must be a float dtype (float16, float32, …)")
        return dtype


class StoreMeta(BaseModel):
    """The fields of ``meta.json`` (see :mod:`avbench.data.store` for the layout)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    format_version: StrictInt | None = Field(None, description="store layout version (avbench reads 1)")
    name: Text = Field(description="corpus name")
    fingerprint: Text = Field(description="content hash of the frames and label tables")
    emotions: Annotated[list[Text], Field(min_length=1)]
    attributes: list[Text] | None = None
    modalities: Annotated[dict[Literal["audio", "video", "text"], ModalitySpec], Field(min_length=1)]
    norm: dict[str, dict[str, list[Number]]] | None = Field(None, description="train-split means and deviations")
    hash_order: list[Literal["audio", "video", "text"]] | None = None
    files: dict[str, StrictStr] | None = Field(None, description="file name → SHA-256")


def parse_meta(data: Any, where: str) -> dict[str, Any]:
    """``meta.json``'s object checked field by field; returned as the plain object the readers use."""
    validated(StoreMeta.model_validate, data, where, "must hold a JSON object")
    return data
