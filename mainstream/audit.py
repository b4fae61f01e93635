"""The audit gate: Great Expectations suites (under ``expectations/``) validate the built marts.

GX's SQL datasource cannot read DuckDB (fivetran/great_expectations #11579, #10738), so each mart is read
read-only from the build file into a DataFrame and validated with the pandas datasource.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from mainstream.home import EXPECTATIONS_DIR

log = logging.getLogger(__name__)

#: Mart → GX validation definition that audits it. Every published mart is audited.
AUDITED_MARTS = (
    "dim_programme",
    "dim_programme_text",
    "fct_programme_tag",
    "fct_programme_evidence",
    "fct_marker_discrepancy",
    "bridge_programme_right",
    "bridge_programme_group",
    "bridge_programme_code",
    "bridge_programme_sdg_target",
    "bridge_programme_treaty",
    "coverage_pillar",
    "coverage_rights_by_country",
    "coverage_groups_by_country",
    "coverage_nexus",
    "coverage_agency_scorecard",
)
VALIDATIONS = {mart: f"{mart}_gate" for mart in AUDITED_MARTS}


@dataclass
class AuditResult:
    success: bool
    failed_expectations: list[str] = field(default_factory=list)
    evaluated: int = 0
    per_mart: dict[str, dict] = field(default_factory=dict)

    def summary(self) -> dict:
        return asdict(self)


def audit_marts(build_db: Path, results_dir: Path, run_id: str) -> AuditResult:
    """Validate every audited mart in ``build_db``; write the result to ``results_dir/<run_id>.json``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ["MAINSTREAM_GX_RESULTS"] = str((results_dir / "gx").resolve())
    import great_expectations as gx  # imported here: costs ~7 s, only the audit needs it

    context = gx.get_context(mode="file", context_root_dir=str(EXPECTATIONS_DIR))
    result = AuditResult(success=True)
    with duckdb.connect(str(build_db), read_only=True) as connection:
        for mart, validation_name in VALIDATIONS.items():
            validation = context.validation_definitions.get(validation_name)
            frame = connection.execute(f"select {_audited_columns(validation)} from marts.{mart}").df()
            outcome = validation.run(batch_parameters={"dataframe": frame})
            failed = [_describe(mart, item) for item in outcome.results if not item.success]
            result.per_mart[mart] = {
                "rows": len(frame),
                "success": bool(outcome.success),
                "evaluated": len(outcome.results),
                "failed": failed,
            }
            result.evaluated += len(outcome.results)
            result.failed_expectations.extend(failed)
            result.success = result.success and bool(outcome.success)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{run_id}.json").write_text(json.dumps(result.summary(), indent=2, default=str))
    log.info("audit %s: %d expectations, %d failed", run_id, result.evaluated, len(result.failed_expectations))
    return result


def _audited_columns(validation) -> str:
    """The select list a validation needs: only the columns its expectations name (a mart's long texts are
    never copied into pandas when no expectation reads them); every column when one is table-level."""
    columns: list[str] = []
    for expectation in validation.suite.expectations:
        arguments = expectation.configuration.kwargs
        named = [arguments[key] for key in ("column", "column_A", "column_B") if key in arguments]
        named += list(arguments.get("column_list", []))
        if not named:
            return "*"
        columns += named
    return ", ".join(f'"{column}"' for column in dict.fromkeys(columns))


def _describe(mart: str, item) -> str:
    config = item.expectation_config
    column = config.kwargs.get("column")
    where = f"{mart}.{column}" if column else mart
    observed = item.result.get("unexpected_count", item.result.get("observed_value"))
    return f"{where}: {config.type} (observed {observed})"
