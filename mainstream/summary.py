"""What a publication holds, for people: programmes per agency and pillar, marker distribution, path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def publication_summary(published_db: Path) -> dict[str, Any]:
    """Read the published file (read-only) and summarise it."""
    if not published_db.exists():
        raise FileNotFoundError(f"{published_db}: nothing published yet; run `mainstream process` or drop a file")
    with duckdb.connect(str(published_db), read_only=True) as connection:
        by_agency = connection.execute(
            """
            select agency_code, count(*) as programmes,
                   count(*) filter (where is_peace) as peace,
                   count(*) filter (where is_development) as development,
                   count(*) filter (where is_rights) as rights,
                   count(*) filter (where is_humanitarian) as humanitarian
            from dim_programme group by agency_code order by programmes desc, agency_code
            """
        ).fetchall()
        markers = dict(
            connection.execute(
                "select hr_marker, count(*) from dim_programme group by hr_marker order by hr_marker"
            ).fetchall()
        )
        run_id, published_at = connection.execute("select run_id, published_at from publication").fetchone()
        criteria_version = connection.execute("select any_value(criteria_version) from dim_programme").fetchone()[0]
    return {
        "published_db": str(published_db),
        "run_id": run_id,
        "published_at": str(published_at),
        "criteria_version": criteria_version,
        "programmes": sum(row[1] for row in by_agency),
        "by_agency": [
            dict(
                zip(
                    ["agency", "programmes", "peace", "development", "rights", "humanitarian"],
                    row,
                    strict=True,
                )
            )
            for row in by_agency
        ],
        "marker_distribution": {str(level): markers.get(level, 0) for level in range(4)},
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"Published {summary['programmes']} programmes (run {summary['run_id']}, "
        f"criteria {summary['criteria_version']})",
        f"{'agency':<14}{'programmes':>11}{'peace':>7}{'devel.':>8}{'rights':>8}{'humanit.':>10}",
    ]
    for row in summary["by_agency"]:
        lines.append(
            f"{row['agency']:<14}{row['programmes']:>11}{row['peace']:>7}{row['development']:>8}"
            f"{row['rights']:>8}{row['humanitarian']:>10}"
        )
    markers = summary["marker_distribution"]
    lines.append(
        "Human rights marker: "
        + ", ".join(
            f"{level} {label}: {markers[level]}"
            for level, label in [("0", "none"), ("1", "limited"), ("2", "significant"), ("3", "principal")]
        )
    )
    lines.append(f"Published file: {summary['published_db']}")
    return "\n".join(lines)
