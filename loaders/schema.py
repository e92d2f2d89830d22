"""Checks that the cases table holds what the data contract needs, naming each problem and its fix."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, NoSuchTableError

from loaders.engine import translate_error
from loaders.errors import CasesUnavailable, SchemaMismatch
from loaders.settings import ALTERNATIVE_INPUTS, MEASURE_INPUTS, Settings, measures_from_columns

__all__ = ["SchemaReport", "check_cases_schema", "check_volume_schema", "reflect_columns", "type_kind"]


@dataclass(frozen=True)
class SchemaReport:
    """What validation found: the optional columns absent (their measures read as empty)."""

    table: str
    missing_optional: frozenset[str]
    column_types: dict[str, str]
    #: whether ``[sla]`` gives targets (an SLA then needs no column of its own)
    sla_from_config: bool = False

    @property
    def measures(self) -> frozenset[str]:
        """The roll-up measures the table has every input column of (see ``MEASURE_INPUTS``)."""
        inputs = {c for cols in MEASURE_INPUTS.values() for c in cols} | {a for alt in ALTERNATIVE_INPUTS.values()
                                                                         for a in alt}
        return measures_from_columns(inputs - self.missing_optional, sla_from_config=self.sla_from_config)


def type_kind(coltype: sa.types.TypeEngine) -> str:
    """Classify a reflected column type as ``timestamp``, ``number``, ``text`` or ``other``."""
    if isinstance(coltype, sa.DateTime | sa.TIMESTAMP):
        return "timestamp"
    if isinstance(coltype, sa.Date):
        return "date"
    if isinstance(coltype, sa.Integer | sa.Numeric | sa.Float | sa.Boolean):
        return "number"
    if isinstance(coltype, sa.String | sa.Enum):
        return "text"
    name = type(coltype).__name__.upper()
    if "TIME" in name:
        return "timestamp"
    if any(t in name for t in ("INT", "REAL", "DOUBLE", "DEC", "NUM", "FLOAT", "BIT", "BOOL")):
        return "number"
    if any(t in name for t in ("CHAR", "TEXT", "CLOB")):
        return "text"
    return "other"


_EXPECTED = {"timestamp": "a timestamp", "number": "a number", "text": "text", "id": "any type"}


def reflect_columns(engine: Engine, settings: Settings) -> dict[str, dict]:
    """The source table's columns by lower-cased name (SQLAlchemy's reflection dicts).

    Raises
    ------
    SchemaMismatch
        If the table does not exist.
    SourceUnavailable
        If the database cannot be inspected.
    """
    table = settings.cases_table
    where = f"{settings.schema}.{table}" if settings.schema else table
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(table, schema=settings.schema):
            raise SchemaMismatch(
                f"table `{where}` does not exist in the database",
                hint=f"Set [source] table = \"<your table>\" in the configuration file"
                f"{' (and [source] schema)' if not settings.schema else ''}.",
                problems=(f"table `{where}` is missing",),
            )
        return {c["name"].lower(): c for c in inspector.get_columns(table, schema=settings.schema)}
    except NoSuchTableError as err:
        raise SchemaMismatch(f"table `{where}` does not exist in the database") from err
    except DBAPIError as err:
        raise translate_error(err, doing=f"inspecting table `{where}`") from err


def check_volume_schema(engine: Engine, settings: Settings) -> frozenset[str]:
    """Validate a daily volume source (``[source] kind = "volume"``); return the canonical columns present.

    Raises
    ------
    SchemaMismatch
        Naming every missing required column (``day``, ``incoming``, ``solved``) and every measure that is
        not a number, each with the configuration line that fixes it.
    """
    reflected = reflect_columns(engine, settings)
    where = f"{settings.schema}.{settings.cases_table}" if settings.schema else settings.cases_table
    present: set[str] = set()
    problems: list[str] = []
    for canonical, required in settings.volume_columns.items():
        actual = settings.columns[canonical]
        col = reflected.get(actual.lower())
        if col is None:
            if required:
                problems.append(f"table `{where}` has no column `{actual}` for `{canonical}` "
                                f"(map it in the configuration file: {settings.mapping_line(canonical)})")
            continue
        found = type_kind(col["type"])
        want = "date" if canonical == "day" else "text" if canonical in settings.dimension_keys else "number"
        ok = found == want or (want == "date" and found in ("timestamp", "text")) or want == "text"
        if not ok:
            problems.append(f"column `{actual}` (for `{canonical}`) has type {col['type']}, expected "
                            f"{'a date' if want == 'date' else 'a number'} "
                            f"(map another column with [columns] {canonical} = \"…\", or cast it in a view)")
            continue
        present.add(canonical)
    if problems:
        raise SchemaMismatch(
            f"table `{where}` does not match the daily volume contract: {len(problems)} problem(s)",
            hint="Fix the mapping in the configuration file ([columns] section); see docs/configuration.md.",
            problems=tuple(problems),
        )
    return frozenset(present)


def check_cases_schema(engine: Engine, settings: Settings) -> SchemaReport:
    """Validate the mapped cases table.

    Raises
    ------
    SchemaMismatch
        Listing every missing required column and every column of the wrong type, each with the
        configuration line that fixes it.
    SourceUnavailable
        If the database cannot be inspected.
    CasesUnavailable
        If the settings describe a daily volume source.
    """
    if settings.source_kind != "cases":
        raise CasesUnavailable(
            f"the source `{settings.cases_table}` is a daily volume table: case rows are not available",
            hint="Set [source] kind = \"cases\" and map a table with one row per case to drill down to cases.",
        )
    table = settings.cases_table
    where = f"{settings.schema}.{table}" if settings.schema else table
    reflected = reflect_columns(engine, settings)

    problems: list[str] = []
    missing_optional: set[str] = set()
    types: dict[str, str] = {}
    sqlite = engine.dialect.name == "sqlite"
    for canonical, (kind, required) in settings.case_columns.items():
        actual = settings.columns[canonical]
        col = reflected.get(actual.lower())
        if col is None:
            if required:
                problems.append(
                    f"table `{where}` has no column `{actual}` for `{canonical}` "
                    f"(map it in the configuration file: {settings.mapping_line(canonical)})"
                )
            else:
                missing_optional.add(canonical)
            continue
        found = type_kind(col["type"])
        types[canonical] = str(col["type"])
        # SQLite stores timestamps as text; accept TEXT there, the roll-up's date functions parse it.
        ok = kind == "id" or found == kind or (kind == "timestamp" and sqlite and found == "text")
        if not ok:
            problems.append(
                f"column `{actual}` (for `{canonical}`) has type {col['type']}, expected {_EXPECTED[kind]} "
                f"(map another column with [columns] {canonical} = \"…\", or cast it in a view)"
            )
    if problems:
        raise SchemaMismatch(
            f"table `{where}` does not match the data contract: {len(problems)} problem(s)",
            hint="Fix the mapping in the configuration file ([columns] section); see docs/configuration.md.",
            problems=tuple(problems),
        )
    return SchemaReport(where, frozenset(missing_optional), types, settings.sla_from_config)
