"""Who is acting: a person, an API key, or the system (tasks, beat, commands).

Every action takes one `Principal` as `by`. Its side (customer or MSP) and its role in a given
customer decide what the action allows; its label is what the audit log records. How a principal
is *shown to a customer* is decided in one place, `portal.audit.display`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Side:
    CUSTOMER = "customer"
    MSP = "msp"
    SYSTEM = "system"


@dataclass(frozen=True, eq=False)
class Principal:
    """The acting principal of one action call.

    Build it at the edge: `Principal.from_request(request)` in views, `Principal.for_key(key)` in
    the API, `Principal.system()` in tasks and beat. `mfa` says the person proved a second
    factor; MSP-side actions refuse a staff user without one.
    """

    user: Any = None
    api_key: Any = None
    mfa: bool = False
    _roles: dict = field(default_factory=dict, repr=False)

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def system(cls) -> Principal:
        return cls()

    @classmethod
    def for_user(cls, user, *, mfa: bool | None = None) -> Principal:
        if mfa is None:
            mfa = _has_totp(user)
        return cls(user=user, mfa=mfa)

    @classmethod
    def for_key(cls, api_key) -> Principal:
        return cls(api_key=api_key)

    @classmethod
    def from_request(cls, request) -> Principal:
        """The principal behind a web request: its API key if it carries one, else its user."""
        key = getattr(request, "auth", None)
        if key is not None and hasattr(key, "key_hash"):
            return cls.for_key(key)
        return cls.for_user(request.user)

    @classmethod
    def of(cls, value) -> Principal:
        """Accept what callers hold during the transition: a Principal, a user, a key or None."""
        if isinstance(value, Principal):
            return value
        if value is None:
            return cls.system()
        if hasattr(value, "key_hash"):
            return cls.for_key(value)
        return cls.for_user(value)

    # --- what it is --------------------------------------------------------------------------

    @property
    def is_system(self) -> bool:
        return self.user is None and self.api_key is None

    @property
    def side(self) -> str:
        if self.is_system:
            return Side.SYSTEM
        if self.api_key is not None:
            return Side.MSP if self.api_key.customer_id is None else Side.CUSTOMER
        return Side.MSP if (self.user.is_staff and self.user.is_active) else Side.CUSTOMER

    @property
    def is_msp(self) -> bool:
        return self.side == Side.MSP

    @property
    def audit_user(self):
        """The user rows and audit entries link to: the person, or the person who made the API
        key (accountable for it; the entry's label still names the key), or None for the system."""
        if self.api_key is not None:
            return self.api_key.created_by
        return self.user

    @property
    def label(self) -> str:
        """What the audit log records as the actor (the full truth; customers see a mask)."""
        if self.api_key is not None:
            return f"API key {self.api_key.name} ({self.api_key.prefix})"[:254]
        if self.user is not None:
            user = self.user
            return (getattr(user, "email", "") or user.get_username() or f"user {user.pk}")[:254]
        return "system"

    def role_in(self, customer) -> str | None:
        """The customer-side role this principal holds in `customer`, or None.

        A customer API key acts as an admin of its own customer; MSP principals and the system
        hold no customer role (their power comes from their side).
        """
        if customer is None or self.side != Side.CUSTOMER:
            return None
        if self.api_key is not None:
            return "admin" if self.api_key.customer_id == customer.pk else None
        if customer.pk not in self._roles:
            from portal.customers.models import Membership

            self._roles[customer.pk] = (
                Membership.objects.filter(customer_id=customer.pk, user=self.user)
                .values_list("role", flat=True)
                .first()
            )
        return self._roles[customer.pk]

    def __repr__(self) -> str:
        return f"<Principal {self.side} {self.label!r}>"


def _has_totp(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP])
