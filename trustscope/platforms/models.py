"""The platform record: who a text can be about."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Category = Literal["payment", "lending", "wealth", "bank", "insurance", "p2p", "other"]


class Platform(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$", description="stable slug")
    name_zh: str = Field(..., min_length=1, max_length=100)
    name_en: str = Field(..., min_length=1, max_length=100)
    category: Category = "other"
    status: Literal["active", "defunct"] = "active"
    aliases: list[str] = Field(default_factory=list, max_length=100)
    domains: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        return [a.strip() for a in v if a and a.strip()]

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            d = d.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")
            if d:
                out.append(d)
        return out

    def names(self) -> list[str]:
        """Every surface form a text may use for this platform."""
        return [self.name_zh, self.name_en, *self.aliases]


class PlatformPatch(BaseModel):
    """Partial update from the admin API."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name_zh: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, min_length=1, max_length=100)
    category: Category | None = None
    status: Literal["active", "defunct"] | None = None
    aliases: list[str] | None = Field(None, max_length=100)
    domains: list[str] | None = Field(None, max_length=50)
