"""The raw record shapes every reader produces, whatever the source format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: Kinds of code attached to a programme (the ``code_type`` column of ``raw.programme_codes``).
CODE_TYPES = (
    "sector",
    "policy_marker",
    "tag",
    "humanitarian_scope",
    "recipient_country",
    "recipient_region",
    "related_activity",
)
#: Budgets must fit the warehouse's decimal(18,2), i.e. be below 10^16, as the float the raw zone stores.
MAX_BUDGET = 1e16
NEGATIVE_BUDGET = "is negative; budgets must be zero or more"


def budget_out_of_range(amount: float) -> str | None:
    """Why the warehouse cannot hold a budget (negative, or not below 10^16 as a float); None when it can.

    Compared as the float the raw zone stores: 9999999999999999.99 is stored as 1e16, which overflows.
    """
    if amount < 0:
        return NEGATIVE_BUDGET
    if float(amount) >= MAX_BUDGET:
        return f"is too large; budgets must be below {MAX_BUDGET:,.0f}"
    return None


#: Programme dates before the UN existed or after 2100 are typing slips (0201 for 2021), which would put programmes
#: in coverage years no analyst asks about.
FIRST_PLAUSIBLE_YEAR = 1945
LAST_PLAUSIBLE_YEAR = 2100


def implausible_year(value: date) -> str | None:
    """Why a programme date cannot be right (its year outside 1945-2100); None when it can."""
    if FIRST_PLAUSIBLE_YEAR <= value.year <= LAST_PLAUSIBLE_YEAR:
        return None
    return f"has the year {value.year}, outside {FIRST_PLAUSIBLE_YEAR}-{LAST_PLAUSIBLE_YEAR}; check the year"


@dataclass
class CodeRecord:
    """One code a publisher attached to a programme (a sector, policy marker, tag, ...)."""

    code_type: str
    vocabulary: str
    code: str
    significance: str | None = None
    percentage: float | None = None
    narrative: str | None = None


@dataclass
class ProgrammeRecord:
    """One programme (an IATI activity or a row of a tabular extract), before lineage is added."""

    programme_id: str
    record_number: int
    agency_ref: str
    reporting_org_name: str | None = None
    title: str | None = None
    description: str | None = None
    objectives: str | None = None
    target_groups: str | None = None
    other_description: str | None = None
    languages: str | None = None
    activity_status: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    humanitarian_flag: bool | None = None
    default_currency: str | None = None
    budget_value: float | None = None
    budget_currency: str | None = None
    codes: list[CodeRecord] = field(default_factory=list)
    #: Values left out of this record (it is still loaded), each with where it was and why.
    value_problems: list[RecordProblem] = field(default_factory=list)


@dataclass(frozen=True)
class RecordProblem:
    """A record that could not be loaded, or (``record_loaded``) a value left out of a loaded record; where and why."""

    record_number: int
    field: str
    message: str
    programme_id: str | None = None
    record_loaded: bool = False

    def describe(self, file_name: str, unit: str = "row") -> str:
        ident = f" ({self.programme_id})" if self.programme_id else ""
        return f"{file_name}: {unit} {self.record_number}{ident}, field '{self.field}': {self.message}"
