"""Who may see what: users, roles and the scope every data read carries.

Configuration (``ops.toml``)::

    [auth]
    mode = "header"                 # "none" (default: one local user, an admin), "oidc" or "header"
    header = "X-Forwarded-Email"    # header mode: the header the trusted proxy sets

    [roles]
    admins = ["ops-lead@example.com"]
    analysts = ["*@example.com"]    # shell-style patterns, matched without regard to case
    [roles.partners."lead@vendor-manila.example"]
    vendor_site = ["Manila"]        # any configured dimension can scope; several dimensions narrow together

A partner's :class:`Scope` is applied by the data layer itself (``loaders.volume``, ``loaders.cases``): every
read for that user carries the scope's values as bound parameters, so "all" means all of its own values and
no total, share or rank can hold another's. A filter asking for a value outside the scope raises
:class:`NotAllowed`, which names no value the user may not see.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from loaders.errors import ConfigError, OpsDataError

if TYPE_CHECKING:
    from loaders.volume import Filters

__all__ = ["LOCAL_USER", "Access", "NotAllowed", "Scope", "User", "access_from_mapping"]

Role = Literal["admin", "analyst", "partner"]
AUTH_MODES = ("none", "oidc", "header")


class NotAllowed(OpsDataError):
    """The user may not see what was asked (another partner's value, or nothing at all)."""


@dataclass(frozen=True)
class Scope:
    """The values of each scoped dimension a user may see; a dimension not named is not limited.

    ``Scope()`` sees everything; :meth:`nothing` sees nothing (an unknown user).

    Examples
    --------
    >>> s = Scope.of({"vendor_site": ["Manila"]})
    >>> s.allows("vendor_site", "Manila"), s.allows("vendor_site", "Krakow"), s.allows("workflow", "copyright")
    (True, False, True)
    """

    limits: tuple[tuple[str, tuple[str, ...]], ...] = ()
    blind: bool = False

    @classmethod
    def of(cls, limits: Mapping[str, Iterable[str]]) -> Scope:
        return cls(tuple(sorted((d, tuple(sorted({str(v) for v in vals}))) for d, vals in limits.items())))

    @classmethod
    def nothing(cls) -> Scope:
        return cls(blind=True)

    @property
    def everything(self) -> bool:
        return not self.limits and not self.blind

    @property
    def dimensions(self) -> dict[str, tuple[str, ...]]:
        """The scoped dimensions and their allowed values."""
        return dict(self.limits)

    def allows(self, dimension: str, value: str) -> bool:
        if self.blind:
            return False
        allowed = self.dimensions.get(dimension)
        return allowed is None or value in allowed

    def within(self, other: Scope) -> bool:
        """Whether everything this scope sees, ``other`` sees too (a deck made under it may be opened by it)."""
        if other.blind:
            return False
        if self.blind:
            return True
        mine = self.dimensions
        return all(d in mine and set(mine[d]) <= set(vals) for d, vals in other.limits)

    def sees_slice(self, pairs: Iterable[tuple[str, str]]) -> bool:
        """Whether a note on this slice (``(dimension, value)`` pairs; none: the total) is for this scope's eyes:
        only when the slice lies within it (a partner reads no note on the company total)."""
        pairs = tuple(pairs)
        return Scope.of({d: [v] for d, v in pairs}).within(self) if pairs else self.everything

    def restrict(self, filters: Filters) -> Filters:
        """``filters`` cut to this scope: an unfiltered scoped dimension becomes its allowed values.

        Raises
        ------
        NotAllowed
            The scope sees nothing, or a filter names a value outside it (the message names no such value).
        """
        if self.blind:
            raise NotAllowed("you are not allowed to see any data", hint="Ask an admin to give you a role.")
        if not self.limits:
            return filters
        chosen = filters.dimension_filters
        for d, allowed in self.limits:
            asked = chosen.get(d)
            if asked and not set(asked) <= set(allowed):
                raise NotAllowed("this view asks for data you are not allowed to see",
                                 hint="Clear the filter, or open it for one of your own values.")
            chosen[d] = asked or allowed
        return filters.narrowed(**chosen)

    def to_record(self) -> dict[str, Any]:
        return {"blind": True} if self.blind else {d: list(v) for d, v in self.limits}

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> Scope:
        if not record:
            return cls()
        if record.get("blind"):
            return cls.nothing()
        return cls.of(record)

    def describe(self, label=lambda d: d.replace("_", " ")) -> str:
        """In words (``"Vendor site: Manila"``; ``"everything"``)."""
        if self.blind:
            return "nothing"
        return " × ".join(f"{label(d)}: {', '.join(v)}" for d, v in self.limits) or "everything"


@dataclass(frozen=True)
class User:
    """A signed-in person: the name shown on notes and in the audit log, a role and a scope."""

    email: str
    role: Role
    scope: Scope = field(default_factory=Scope)
    name: str = ""

    @property
    def display(self) -> str:
        return self.name or self.email

    @property
    def can_write_notes(self) -> bool:
        return self.role in ("admin", "analyst")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


#: the single user of ``mode = "none"`` (today's local, single-user dashboard)
LOCAL_USER = User("local", "admin", Scope(), "you")


@dataclass(frozen=True)
class Access:
    """The ``[auth]`` and ``[roles]`` sections, resolved."""

    mode: Literal["none", "oidc", "header"] = "none"
    header: str = "X-Forwarded-Email"
    admins: tuple[str, ...] = ()
    analysts: tuple[str, ...] = ()
    partners: tuple[tuple[str, Scope], ...] = ()

    def user(self, email: str | None, *, name: str = "") -> User | None:
        """The user an e-mail address signs in as, or ``None`` for one with no role (who sees nothing).

        Admins are matched first, then partners (exact addresses), then analysts: a partner of a domain an
        analyst pattern also covers (``*@example.com``) stays scoped to its own values.
        """
        if self.mode == "none":
            return LOCAL_USER
        if not email:
            return None
        email = email.strip().lower()
        if any(_match(email, p) for p in self.admins):
            return User(email, "admin", Scope(), name)
        partner = dict(self.partners).get(email)
        if partner is not None:
            return User(email, "partner", partner, name)
        if any(_match(email, p) for p in self.analysts):
            return User(email, "analyst", Scope(), name)
        return None


def _match(email: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(email, pattern.strip().lower())


def _patterns(section: Mapping[str, Any], key: str) -> tuple[str, ...]:
    vals = section.get(key, [])
    if isinstance(vals, str):
        vals = [vals]
    if not isinstance(vals, list) or not all(isinstance(v, str) and v.strip() for v in vals):
        raise ConfigError(f"`roles.{key}` must be a list of e-mail addresses or patterns like \"*@example.com\"",
                          key=f"roles.{key}")
    return tuple(v.strip().lower() for v in vals)


def access_from_mapping(auth: Mapping[str, Any], roles: Mapping[str, Any], dimensions: tuple[str, ...]) -> Access:
    """Validate ``[auth]`` and ``[roles]`` (``dimensions``: the configured dimension keys a partner may be
    scoped by)."""
    unknown = sorted(set(auth) - {"mode", "header"})
    if unknown:
        raise ConfigError(f"unknown key `auth.{unknown[0]}`", hint="[auth] takes mode and header.",
                          key=f"auth.{unknown[0]}")
    mode = auth.get("mode", "none")
    if mode not in AUTH_MODES:
        raise ConfigError(f"`auth.mode` must be one of {', '.join(AUTH_MODES)}, got {mode!r}", key="auth.mode")
    header = auth.get("header", "X-Forwarded-Email")
    if not isinstance(header, str) or not header.strip() or not header.replace("-", "").isalnum():
        raise ConfigError(f"`auth.header` must be an HTTP header name like X-Forwarded-Email, got {header!r}",
                          key="auth.header")
    unknown = sorted(set(roles) - {"admins", "analysts", "partners"})
    if unknown:
        raise ConfigError(f"unknown key `roles.{unknown[0]}`", hint="[roles] takes admins, analysts and partners.",
                          key=f"roles.{unknown[0]}")
    partners_cfg = roles.get("partners", {})
    if not isinstance(partners_cfg, Mapping):
        raise ConfigError("`roles.partners` must be a table of e-mail address → scope", key="roles.partners")
    partners = []
    for email, limits in partners_cfg.items():
        where = f"roles.partners.{email}"
        if not isinstance(limits, Mapping) or not limits:
            raise ConfigError(f"`{where}` must name at least one dimension and its values, e.g. "
                              f"{dimensions[-1 if len(dimensions) < 2 else 1]} = [\"…\"]", key=where)
        for d, vals in limits.items():
            if d not in dimensions:
                raise ConfigError(f"`{where}` scopes by {d!r}, which is not a configured dimension",
                                  hint=f"Dimensions: {', '.join(dimensions)}.", key=where)
            if isinstance(vals, str):
                vals = [vals]
            if not isinstance(vals, list) or not vals or not all(isinstance(v, str) and v for v in vals):
                raise ConfigError(f"`{where}.{d}` must be a non-empty list of values", key=where)
        partners.append((str(email).strip().lower(), Scope.of(
            {d: [vals] if isinstance(vals, str) else vals for d, vals in limits.items()})))
    if mode == "none" and (roles.get("admins") or roles.get("analysts") or partners):
        raise ConfigError("[roles] is set but `auth.mode` is \"none\", where everyone is one local admin",
                          hint="Set [auth] mode = \"oidc\" or \"header\" for the roles to apply.", key="auth.mode")
    return Access(mode, header.strip(), _patterns(roles, "admins"), _patterns(roles, "analysts"), tuple(partners))
