"""The benchmark's synthetic programmes are real programmes resampled, with figures of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from bench.generate_programmes import generate
from bench.real_sample import REAL_PROGRAMME_CODES, REAL_PROGRAMMES, RealSampleError, write_real_sample
from tests.helpers import FIXTURES


def test_each_programme_copies_a_real_one_with_figures_of_its_own(tmp_path: Path) -> None:
    generate(tmp_path / "raw", 2_000)
    connection = duckdb.connect()
    connection.execute(f"create view real_programmes as select * from read_parquet('{REAL_PROGRAMMES}')")
    connection.execute(f"create view real_codes as select * from read_parquet('{REAL_PROGRAMME_CODES}')")
    connection.execute(f"create view programmes as select * from read_parquet('{tmp_path}/raw/programmes/*.parquet')")
    connection.execute(f"create view codes as select * from read_parquet('{tmp_path}/raw/programme_codes/*.parquet')")
    # Match each synthetic programme to the real one whose title it extends.
    [(programmes, matched, distinct_descriptions, descriptions, languages)] = connection.execute(
        """
        with matched as (
            select programmes.programme_id, real_programmes.programme_id as real_id
            from programmes
            inner join real_programmes
                on programmes.title = real_programmes.title || regexp_extract(programmes.title, ' \\(\\d+\\)$')
                and programmes.agency_ref = real_programmes.agency_ref
                and programmes.description is not distinct from (
                    rtrim(real_programmes.description, '. ') || '.'
                    || regexp_extract(programmes.description, ' (It reaches|Il touche|Llega a) \\d+ .*$')
                )
            qualify row_number() over (partition by programmes.programme_id order by real_programmes.programme_id) = 1
        )
        select
            (select count(*) from programmes),
            (select count(*) from matched),
            (select count(distinct description) from programmes),
            (select count(description) from programmes),
            (select count(distinct split_part(languages, ',', 1)) from programmes)
        """
    ).fetchall()
    assert programmes == 2_000 and matched == 2_000
    assert distinct_descriptions == descriptions, "each description carries its own figures"
    assert languages >= 3
    # Codes are the real programme's, without links to activities the sample does not hold.
    [(code_rows, related)] = connection.execute(
        "select count(*), count(*) filter (where code_type = 'related_activity') from codes"
    ).fetchall()
    assert code_rows > 2 * programmes and related == 0


def test_the_real_sample_is_written_by_the_project_s_own_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "iati"
    folder.mkdir()
    # Two files that name the same programme: it is written once, in its latest version.
    for name in ("unhcr_small.xml", "project_check_devmix.xml", "gold_dev.xml"):
        shutil.copy(FIXTURES / "iati" / name, folder)
    programmes, codes = write_real_sample(folder, tmp_path)
    connection = duckdb.connect()
    [(written, identifiers)] = connection.execute(
        f"select count(*), count(distinct programme_id) from read_parquet('{tmp_path}/real_programmes.parquet')"
    ).fetchall()
    assert written == programmes == identifiers > 0
    [(written_codes,)] = connection.execute(
        f"select count(*) from read_parquet('{tmp_path}/real_programme_codes.parquet')"
    ).fetchall()
    assert written_codes == codes > 0
    # Lineage stays behind: the generator writes its own.
    columns = set(connection.sql(f"select * from '{tmp_path}/real_programmes.parquet'").columns)
    assert "extract_id" not in columns and "title" in columns
    # The values are the ingest's reading of the file: UNHCR's Argentina office, its texts and its codes.
    [(agency, title, description)] = connection.execute(
        f"select agency_ref, title, description from read_parquet('{tmp_path}/real_programmes.parquet') "
        "where programme_id = 'XM-DAC-41121-2020-AME-ARGMCO'"
    ).fetchall()
    assert agency == "XM-DAC-41121" and "Argentina Multi-Country Office" in title
    assert "coordinates activities in Argentina and Chile" in description
    [(countries,)] = connection.execute(
        f"select list(code order by code) from read_parquet('{tmp_path}/real_programme_codes.parquet') "
        "where programme_id = 'XM-DAC-41121-2020-AME-ARGMCO' and code_type = 'recipient_country'"
    ).fetchall()
    assert countries == ["AR"]


def test_a_sample_file_the_ingest_quarantines_stops_the_sample_with_its_reason(tmp_path: Path) -> None:
    folder = tmp_path / "iati"
    folder.mkdir()
    shutil.copy(next((FIXTURES / "iati").glob("*.xml")), folder)
    (folder / "broken.xml").write_text("<iati-activities><iati-activity>", encoding="utf-8")

    with pytest.raises(RealSampleError, match=r"broken\.xml: quarantined, so the sample would miss it: \S"):
        write_real_sample(folder, tmp_path / "data")
    assert not (tmp_path / "data" / "real_programmes.parquet").exists()
