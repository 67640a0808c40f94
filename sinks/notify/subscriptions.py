"""Who is told about which unit's dossiers: subscriptions of ward officials, as data.

A YAML file (``DONGBO_NOTIFY_SUBSCRIPTIONS``), validated as a whole when loaded: an error names the
entry and the field, and nothing is used from a file with an error. Example::

    officials:
      - name: Nguyễn Văn A
        units: ["000.00.15.H17"]
        email: nva@phuong-hai-chau.danang.gov.vn
        webhook: https://chat-bridge.example/hooks/hai-chau   # optional
        kinds: [near_deadline, overdue]                         # default: both
        lang: vi                                                # vi (default) or en
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Kind = Literal["near_deadline", "overdue"]  # what an official is notified of (received_late: statistics)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SubscriptionError(ValueError):
    """A subscriptions file that cannot be used; the message says where and why."""


def _every_kind() -> list[Kind]:
    return ["near_deadline", "overdue"]


class _Official(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    units: list[str] = Field(min_length=1)
    email: str | None = None
    webhook: str | None = None
    kinds: list[Kind] = Field(default_factory=_every_kind, min_length=1)
    lang: Literal["vi", "en"] = "vi"

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError(f"{v!r} is not an email address")
        return v

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v


@dataclass(frozen=True)
class Subscription:
    official: str
    units: frozenset[str]
    email: str | None
    webhook: str | None
    kinds: frozenset[str]
    lang: str

    def channels(self) -> list[tuple[str, str]]:
        """(channel, address) this official is reached by."""
        out = []
        if self.email:
            out.append(("email", self.email))
        if self.webhook:
            out.append(("webhook", self.webhook))
        return out


def parse_subscriptions(doc: Any, source: str = "subscriptions") -> list[Subscription]:
    if not isinstance(doc, dict) or not isinstance(doc.get("officials"), list):
        raise SubscriptionError(f"{source}: expected a mapping with a list under 'officials'")
    out: list[Subscription] = []
    names: set[str] = set()
    for i, entry in enumerate(doc["officials"], 1):
        try:
            o = _Official.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            raise SubscriptionError(f"{source}: official #{i}: {where}: {first['msg']}") from None
        if not (o.email or o.webhook):
            raise SubscriptionError(f"{source}: official #{i} ({o.name}): give an email, a webhook or both")
        if o.name in names:
            raise SubscriptionError(f"{source}: official #{i}: {o.name!r} is listed twice")
        names.add(o.name)
        out.append(Subscription(o.name, frozenset(o.units), o.email, o.webhook, frozenset(o.kinds), o.lang))
    return out


def load_subscriptions(path: Path) -> list[Subscription]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SubscriptionError(f"cannot read the subscriptions file {path}: {exc.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SubscriptionError(f"{path}: not valid YAML ({exc})") from None
    return parse_subscriptions(doc, str(path))


def subscribers(subs: Iterable[Subscription], unit: str | None, kind: str) -> list[Subscription]:
    return [s for s in subs if unit in s.units and kind in s.kinds]
