"""The base of every result and record model: its validator is built on first use, not at import.

A server start imports every model (about sixty) but uses few; pydantic otherwise builds each
one's schema when its class is defined.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
