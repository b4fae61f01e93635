"""How phrases are matched in text, on a copy of the dbt project so the matching itself can be varied."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mainstream.home import Home
from mainstream.pipeline import ingest_paths
from tests.helpers import FIXTURES, copy_dbt_project, dbt_in

pytestmark = pytest.mark.xdist_group("dbt_copy")


def test_a_phrase_inside_a_longer_match_counts_even_in_the_same_alternation(tmp_path: Path) -> None:
    """ "femmes et jeunes" is a women-and-girls phrase and "jeunes" a youth phrase; "children and youth" a
    children phrase and "youth" a youth phrase. An alternation finds only the longer match, so with every phrase
    in one alternation the shorter one is found only through the phrases inside each span: the tags must not
    depend on which phrases share an alternation."""
    project = copy_dbt_project(tmp_path / "dbt_project")
    macro = project / "macros" / "phrase_alternation.sql"
    one_alternation = (
        macro.read_text(encoding="utf-8")
        .replace("chunk_size=320", "chunk_size=100000")
        .replace("open_chunk_size=50", "open_chunk_size=100000")
    )
    assert one_alternation != macro.read_text(encoding="utf-8")
    macro.write_text(one_alternation, encoding="utf-8")
    home = Home(tmp_path / "home").ensure()
    ingest_paths([FIXTURES / "iati" / "nested_phrases.xml"], home)
    for command in (["seed", "--quiet"], ["run", "--select", "+fct_programme_tag", "--quiet"]):
        completed = dbt_in(project, home, *command)
        assert completed.returncode == 0, completed.stdout + completed.stderr

    with duckdb.connect(str(home.build_db), read_only=True) as connection:
        compiled = next(home.dbt_target.glob("compiled/**/int_text_spans.sql")).read_text(encoding="utf-8")
        # One alternation of plain phrases (these nested ones among them) and one of open-ended phrases.
        assert compiled.count("regexp_extract_all(") == 2, "the copy should scan with one alternation of each kind"
        groups = connection.execute(
            "select programme_id, list(criterion_code::varchar order by criterion_code::varchar) "
            "from marts.fct_programme_tag where criterion_type = 'group' group by 1"
        ).fetchall()
    assert dict(groups) == {
        "XM-DAC-41114-NP-FEMMES-JEUNES": ["women_girls", "youth"],
        "XM-DAC-41122-NP-CHILDREN-YOUTH": ["children", "youth"],
    }
