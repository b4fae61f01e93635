"""``mainstream retract``: a loaded extract withdrawn from the warehouse, kept on disk, and loadable again."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from mainstream.cli import main
from mainstream.home import SAMPLE_DATA_DIR, Home
from mainstream.ledger import Ledger
from mainstream.pipeline import ingest_paths
from mainstream.retraction import RetractionError, retract_extract
from mainstream.status import collect_status, format_status

CSV = SAMPLE_DATA_DIR / "csv" / "undp" / "programmes.csv"


def _csv(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _published(home: Home, sql: str) -> list[tuple]:
    with duckdb.connect(str(home.published_db), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _sample_ids() -> set[str]:
    with duckdb.connect() as connection:
        return {row[0] for row in connection.execute("select programme_id from read_csv(?)", [str(CSV)]).fetchall()}


@pytest.mark.xdist_group("pipeline")
def test_a_wrong_agency_and_a_bad_correction_are_retracted_and_the_file_loads_again(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """UNDP's file processed as UNICEF's, and a correction of L-1 that the agency takes back: both retracted.

    The published marts lose the wrongly attributed programmes and get L-1's earlier version back; the same file
    then loads under UNDP (it is no duplicate of a retracted extract); the raw files and the archived drops stay.
    """
    outside = tmp_path / "share"
    [first] = ingest_paths(
        [_csv(outside / "v1", "legal-aid.csv", "programme_id,title\nL-1,Legal aid clinics\n")], home, agency="undp"
    )
    [wrong] = ingest_paths([CSV], home, agency="unicef")
    [correction] = ingest_paths(
        [_csv(outside / "v2", "legal-aid.csv", "programme_id,title\nL-1,Typo title\n")], home, agency="undp"
    )
    assert (first.state, wrong.state, correction.state) == ("loaded", "loaded", "loaded")
    sample_ids = _sample_ids()

    assert (
        main(
            [
                "--home",
                str(home.root),
                "retract",
                correction.extract_id,
                "--reason",
                "agency took it back",
                "--no-build",
            ]
        )
        == 0
    )
    capsys.readouterr()
    code = main(
        ["--home", str(home.root), "retract", wrong.extract_id, "--reason", "UNDP's file sent as UNICEF's", "--json"]
    )

    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["run"]["state"] == "published" and result["run"]["trigger"] == "cli:retract"
    assert result["retraction"]["rows_loaded"] == len(sample_ids)
    assert _published(home, "select programme_id, agency_code, title from dim_programme") == [
        ("L-1", "undp", "Legal aid clinics")
    ]
    for extract in (wrong, correction):
        moved = {path.name for path in (home.retracted / extract.extract_id).iterdir()}
        assert "programmes.parquet" in moved and moved <= {"programmes.parquet", "programme_codes.parquet"}
        assert not (home.raw / "programmes" / f"{extract.extract_id}.parquet").exists()
        assert Path(Ledger(home.state_db).drop(extract.extract_id)["stored_path"]).is_file(), "the archived file stays"

    [again] = ingest_paths([CSV], home, agency="undp")
    assert again.state == "loaded", again.reason
    assert main(["--home", str(home.root), "process", "--rebuild"]) == 0
    published = dict(_published(home, "select programme_id, agency_code from dim_programme"))
    assert published == {"L-1": "undp", **dict.fromkeys(sample_ids, "undp")}

    shown = format_status(collect_status(home))
    assert (
        f"retracted at {Ledger(home.state_db).drop(wrong.extract_id)['retracted_at']}: UNDP's file sent as UNICEF's"
        in shown
    )
    assert f"extract={again.extract_id}" in shown


def test_what_cannot_be_retracted_says_why_and_changes_nothing(home: Home, tmp_path: Path) -> None:
    [only] = ingest_paths([CSV], home, agency="undp")
    [duplicate] = ingest_paths(
        [_csv(tmp_path / "copy", "programmes.csv", CSV.read_text(encoding="utf-8"))], home, agency="undp"
    )
    raw_before = sorted(path.name for path in home.raw.rglob("*.parquet"))

    cases = {
        "no-such-extract": "no extract 'no-such-extract' in the ledger",
        duplicate.extract_id: "was duplicate, not loaded",
        only.extract_id: "is the only extract left",
    }
    for extract_id, expected in cases.items():
        with pytest.raises(RetractionError, match=expected):
            retract_extract(home, extract_id, "a reason")
    with pytest.raises(RetractionError, match="say why"):
        retract_extract(home, only.extract_id, "  ")

    assert sorted(path.name for path in home.raw.rglob("*.parquet")) == raw_before
    assert not home.retracted.exists() or list(home.retracted.iterdir()) == []
    assert Ledger(home.state_db).drop(only.extract_id)["retracted_at"] is None


def test_a_retraction_is_recorded_once_and_a_half_done_one_is_finished(home: Home, tmp_path: Path) -> None:
    [kept] = ingest_paths([_csv(tmp_path / "a", "a.csv", "programme_id,title\nA-1,Water\n")], home, agency="undp")
    [withdrawn] = ingest_paths([_csv(tmp_path / "b", "b.csv", "programme_id,title\nB-1,Food\n")], home, agency="undp")
    # A retraction recorded by a process that stopped before it moved the raw file.
    Ledger(home.state_db).record_retraction(withdrawn.extract_id, "test data", "someone@host")
    assert (home.raw / "programmes" / f"{withdrawn.extract_id}.parquet").exists()

    finished = retract_extract(home, withdrawn.extract_id, "another reason")

    assert finished.reason == "test data", "the recorded retraction stands"
    assert not (home.raw / "programmes" / f"{withdrawn.extract_id}.parquet").exists()
    assert (home.retracted / withdrawn.extract_id / "programmes.parquet").is_file()
    with pytest.raises(RetractionError, match=r"already retracted at .*: test data"):
        retract_extract(home, withdrawn.extract_id, "again")
    assert (home.raw / "programmes" / f"{kept.extract_id}.parquet").exists()
    assert [row["extract_id"] for row in Ledger(home.state_db).loaded_drops_not_built()] == [kept.extract_id]
