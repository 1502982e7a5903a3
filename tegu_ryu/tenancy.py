"""Who a request acts for: a tenant, and whether it may administer the controller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    tenant: str
    admin: bool


ANONYMOUS = Principal(tenant="default", admin=True)
