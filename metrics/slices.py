"""A slice — the total, one value of a dimension, or a combination — as one value object.

Every screen, message and slide names a slice, and the panel, the events and the links key series by it.
:class:`Slice` is the one place for all of that: its canonical :attr:`~Slice.key` (``"workflow=copyright|
vendor_site=Manila"``, ``"all"`` for the total) and :meth:`~Slice.parse`, its :attr:`~Slice.filters`, and its
words (:meth:`~Slice.words`, :meth:`~Slice.subject`). Values keep the data's own spelling in keys, filters,
links and CSV files; only the words write ``brand_impersonation`` as ``brand impersonation``
(:func:`value_words`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["KEY_ORDER", "TOTAL", "Slice", "quote_value", "series_parts", "unquote_value", "value_words"]

#: the key of the total (no dimension fixed)
TOTAL = "all"
#: dimensions a key names first, in this order (the sample's scan dimensions); others follow by name, so every
#: slice has one key whatever order its pairs were given in
KEY_ORDER: tuple[str, ...] = ("workflow", "vendor_site")
#: characters a key's value may not hold as such: they separate its pieces
_KEY_CHARS = {"%": "%25", "|": "%7C", "=": "%3D", ",": "%2C", "&": "%26"}


def quote_value(value: object) -> str:
    """A dimension value as a slice key holds it (``"Streets | Sanitation"`` -> ``"Streets %7C Sanitation"``):
    the separators of the key are percent-encoded, so any value round-trips (:func:`unquote_value`)."""
    return "".join(_KEY_CHARS.get(ch, ch) for ch in str(value))


def unquote_value(text: str) -> str:
    """The inverse of :func:`quote_value`."""
    return unquote(text)


def value_words(value: object) -> str:
    """A dimension value as the screens write it: ``"brand_impersonation"`` -> ``"brand impersonation"`` (the data
    keeps its own spelling; links, filters and CSV files keep the value itself)."""
    return str(value).replace("_", " ")



@dataclass(frozen=True)
class Slice:
    """``(dimension, value)`` pairs, in the order they were given (a drill-down's steps); empty = the total.

    Two slices with the same pairs in another order are equal, hash alike and have one :attr:`key`.

    Examples
    --------
    >>> s = Slice.of({"vendor_site": "Manila", "workflow": "brand_impersonation"})
    >>> s.key
    'workflow=brand_impersonation|vendor_site=Manila'
    >>> Slice.parse(s.key) == s
    True
    >>> s.words()
    'brand impersonation at Manila'
    >>> Slice().words(), Slice().subject(), Slice.parse("all").key
    ('all cases', 'overall', 'all')
    """

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, slice_: Slice | Mapping[str, object] | Iterable[tuple[str, object]] | None = None) -> Slice:
        """A slice from a mapping, pairs, another slice or nothing (the total); values become text."""
        if isinstance(slice_, Slice):
            return slice_
        items = slice_.items() if isinstance(slice_, Mapping) else (slice_ or ())
        pairs: dict[str, str] = {}
        for d, v in items:
            pairs[str(d)] = str(v)
        return cls(tuple(pairs.items()))

    @classmethod
    def parse(cls, key: str) -> Slice:
        """The slice of a :attr:`key` (``""`` and ``"all"`` are the total).

        Raises
        ------
        ValueError
            If a piece of the key is not ``dimension=value``.

        Examples
        --------
        >>> Slice.parse("workflow=copyright|vendor_site=Manila").filters
        {'workflow': 'copyright', 'vendor_site': 'Manila'}
        >>> Slice.parse("department=Streets %7C Sanitation").filters
        {'department': 'Streets | Sanitation'}
        """
        if key in (TOTAL, ""):
            return cls()
        pairs = []
        for piece in key.split("|"):
            dim, sep, value = piece.partition("=")
            if not sep or not dim:
                raise ValueError(f"a slice key piece must be 'dimension=value', got {piece!r} in {key!r}")
            pairs.append((dim, unquote_value(value)))
        return cls(tuple(pairs))

    # ------------------------------------------------------------------------------------- identity
    def _canonical(self) -> tuple[tuple[str, str], ...]:
        rank = {d: i for i, d in enumerate(KEY_ORDER)}
        return tuple(sorted(self.pairs, key=lambda p: (rank.get(p[0], len(rank)), p[0])))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Slice) and self._canonical() == other._canonical()

    def __hash__(self) -> int:
        return hash(self._canonical())

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[str]:
        return (d for d, _ in self.pairs)

    @property
    def key(self) -> str:
        """The canonical key: ``dim=value`` pieces joined by ``|`` (:data:`KEY_ORDER` first, then by name), values
        percent-encoded where they hold a separator; ``"all"`` for the total.

        Raises
        ------
        ValueError
            If a dimension is not a plain name (a configured key always is).
        """
        if not self.pairs:
            return TOTAL
        for d, _ in self.pairs:
            if quote_value(d) != d or not d:
                raise ValueError(f"a slice dimension must be a plain name, got {d!r}")
        return "|".join(f"{d}={quote_value(v)}" for d, v in self._canonical())

    @property
    def filters(self) -> dict[str, str]:
        """``{dimension: value}``, in the order given."""
        return dict(self.pairs)

    @property
    def pieces(self) -> frozenset[str]:
        """The key's ``dim=value`` pieces, as a set (a slice is inside another when its pieces include the other's)."""
        return frozenset(f"{d}={quote_value(v)}" for d, v in self.pairs)

    def narrowed(self, **more: object) -> Slice:
        """This slice with more (or replaced) pairs, appended in the order given."""
        return Slice.of({**self.filters, **{d: str(v) for d, v in more.items()}})

    # ---------------------------------------------------------------------------------------- words
    def words(self, order: Sequence[str] = ()) -> str:
        """The slice in words: ``"brand impersonation × web form at Manila"``; ``"all cases"`` for the total.

        Values read in ``order`` (the configured dimensions), then in the order given; a vendor site reads as the
        place ("at Manila"), a language is named as one.

        Examples
        --------
        >>> Slice.of({"vendor_site": "Manila", "workflow": "brand_impersonation", "channel": "web_form"}).words()
        'brand impersonation × web form at Manila'
        >>> Slice.of({"department": "Parks", "request_type": "Pothole"}).words(order=("request_type", "department"))
        'Pothole × Parks'
        """
        filters = self.filters
        keys = [*(d for d in order if d in filters), *(d for d in filters if d not in order)]
        words = [f"language {filters[d]}" if d == "language" else value_words(filters[d])
                 for d in keys if d != "vendor_site"]
        text = " × ".join(words)
        if "vendor_site" in filters:
            text = f"{text} at {filters['vendor_site']}" if text else str(filters["vendor_site"])
        return text or "all cases"

    def subject(self) -> str:
        """The slice after a KPI's name in a sentence: ``"Incoming overall"``, ``"Incoming at Manila"``,
        ``"Incoming brand impersonation at Manila"``."""
        if not self.pairs:
            return "overall"
        text = self.words()
        return f"at {text}" if set(self) == {"vendor_site"} else text


def series_parts(sid: Hashable) -> tuple[str, frozenset[str]]:
    """A series id's KPI and the set of its slice pieces (``("incoming", "workflow=a|site=X")`` ->
    ``("incoming", {"workflow=a", "site=X"})``): each part after the KPI is a slice key (a :class:`Slice` key), or an
    opaque label of a caller's own series id; "total" / "all" are no piece."""
    if isinstance(sid, tuple):
        kpi = str(sid[0]) if sid else ""
        parts = [str(x) for x in sid[1:]]
    else:
        kpi, parts = str(sid), []
    items: set[str] = set()
    for part in parts:
        if part.strip().lower() in ("", "total", TOTAL):
            continue
        try:
            items |= Slice.parse(part).pieces
        except ValueError:
            items.add(part)
    return kpi, frozenset(items)
