"""normalise_text's shortcut (no strip_accents for text whose only non-ASCII characters are common typography) must
give exactly what strip_accents gives, on every character it lets through and on the characters around them."""

# ruff: noqa: RUF001  (typographic characters are what these texts test)
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from mainstream.home import DBT_PROJECT_DIR, Home
from tests.helpers import dbt_in

pytestmark = pytest.mark.xdist_group("dbt_copy")

#: Every text through strip_accents: what normalise_text computed before the shortcut, and must still compute.
REFERENCE = (
    "trim(regexp_replace(replace(replace(strip_accents(lower(t)), chr(8217), ''''), chr(8216), ''''), "
    "'[\\t\\n\\f\\r]\\s*| \\s+', ' ', 'g'))"
)


def _compiled_normalise(tmp_path: Path) -> str:
    home = Home(tmp_path / "home").ensure()
    completed = dbt_in(
        DBT_PROJECT_DIR, home, "compile", "--inline", "select {{ normalise_text('t') }}", "--output", "json", "--quiet"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout)["compiled"].removeprefix("select ")


def test_the_typography_shortcut_gives_what_strip_accents_gives(tmp_path: Path) -> None:
    normalise = _compiled_normalise(tmp_path)
    assert "strip_accents" in normalise and "\\x{2019}" in normalise, "the shortcut's class should be compiled in"
    connection = duckdb.connect()
    # Each character of the Basic Multilingual Plane (surrogates excluded) alone, between words, after an accented
    # letter, with a typographic apostrophe, and before a combining accent; Hangul jamo that compose only in pairs;
    # texts of real programmes' kind.
    connection.execute(
        """
        create table texts as
        with characters as (
            select chr(code_point::integer) as c from range(128, 65536) as t(code_point)
            where code_point not between 55296 and 57343
        )
        select c as t from characters
        union all select 'Women' || c || 'S rights' from characters
        union all select 'Côte' || c || ' d’Ivoire' from characters
        union all select '“Child” ' || c || chr(769) || ' – rights' from characters
        union all select * from (values
            (chr(4352) || chr(4449)), ('가' || chr(4520)),
            ('Women’s and girls’ rights — “voice” • access… «santé» 25° €5 ¿qué? ¡sí!'),
            ('DÉVELOPPEMENT   durable' || chr(10) || chr(9) || ' et  NIÑOS'),
            ('e' || chr(769) || 'ducation'), ('İstanbul ﬁnance Ǆ'), (' leading and trailing ')
        )
        """
    )
    [(texts, differing)] = connection.execute(
        f"select count(*), count(*) filter (where ({normalise}) is distinct from ({REFERENCE})) from texts"
    ).fetchall()
    assert texts > 250_000
    assert differing == 0
