"""The dbt project follows dbt-project-evaluator's rules (enforced with dbt-bouncer) and every mart is audited."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from mainstream.audit import AUDITED_MARTS
from mainstream.home import DBT_PROJECT_DIR, Home
from tests.helpers import copy_dbt_project, dbt_in

BIN = Path(sys.executable).parent


def test_dbt_bouncer_conventions_pass(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    parsed = dbt_in(DBT_PROJECT_DIR, home, "parse", "--quiet")
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    config = tmp_path / "dbt-bouncer.yml"
    config.write_text(
        f"dbt_artifacts_dir: {home.dbt_target}\n" + (DBT_PROJECT_DIR / "dbt-bouncer.yml").read_text(encoding="utf-8")
    )
    results = tmp_path / "bouncer.json"
    completed = subprocess.run(
        [
            str(BIN / "dbt-bouncer"),
            "run",
            "--config-file",
            str(config),
            "--output-format",
            "json",
            "--output-file",
            str(results),
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    outcomes = json.loads(results.read_text())
    failed = [f"{row['check_run_id']}: {row['failure_message']}" for row in outcomes if row["outcome"] != "success"]
    assert failed == [], "\n".join(failed)
    assert completed.returncode == 0
    checked = {row["check_run_id"].split(":")[0] for row in outcomes}
    assert {
        "check_model_names",
        "check_model_has_unique_test",
        "check_model_column_description_populated",
        "check_model_depends_on_multiple_sources",
        "check_model_has_unit_tests",
    } <= checked


def test_every_mart_is_audited_by_a_gx_suite() -> None:
    marts = {path.stem for path in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")}
    assert marts == set(AUDITED_MARTS)
    expectations = DBT_PROJECT_DIR.parent / "expectations" / "validation_definitions"
    assert {path.stem for path in expectations.glob("*.json")} == {f"{mart}_gate" for mart in marts}


@pytest.mark.xdist_group("dbt_copy")
def test_changing_a_criteria_seed_changes_the_criteria_version(tmp_path: Path) -> None:
    project = copy_dbt_project(tmp_path / "dbt_project")
    home = Home(tmp_path / "home").ensure()

    def version() -> str:
        for command in (["seed", "--quiet"], ["run", "--select", "int_criteria_version", "--quiet"]):
            completed = dbt_in(project, home, *command)
            assert completed.returncode == 0, completed.stdout + completed.stderr
        with duckdb.connect(str(home.build_db), read_only=True) as connection:
            return connection.execute("select criteria_version from intermediate.int_criteria_version").fetchone()[0]

    before = version()
    assert before == version(), "same criteria, same version"
    phrases = project / "seeds" / "criteria" / "criteria_text_phrases.csv"
    phrases.write_text(
        phrases.read_text(encoding="utf-8") + "text.group.children,en,schoolchildren\n", encoding="utf-8"
    )
    after = version()
    assert after != before and after.startswith("crit-")


def test_seeds_load_over_a_warehouse_whose_seed_tables_an_older_release_built(tmp_path: Path) -> None:
    """A criteria release that adds a seed column must load over an existing warehouse, not fail on the old table."""
    home = Home(tmp_path / "home").ensure()
    seeded = dbt_in(DBT_PROJECT_DIR, home, "seed", "--quiet")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    with duckdb.connect(str(home.build_db)) as connection:
        connection.execute("alter table criteria.criteria_text_rules drop column response_framing")
    reseeded = dbt_in(DBT_PROJECT_DIR, home, "seed", "--quiet")
    assert reseeded.returncode == 0, reseeded.stdout + reseeded.stderr
    with duckdb.connect(str(home.build_db), read_only=True) as connection:
        columns = {row[0] for row in connection.execute("describe criteria.criteria_text_rules").fetchall()}
    assert "response_framing" in columns


def _top_level_alternatives(alternation: str) -> list[str]:
    """Split a regex alternation on its top-level ``|`` (not inside groups, classes or escapes)."""
    parts, current, depth, in_class, escaped = [], [], 0, False, False
    for character in alternation:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif in_class:
            in_class = character != "]"
        elif character == "[":
            in_class = True
        elif character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
        elif character == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(character)
    return [*parts, "".join(current)]


def _phrase_alternations(project: Path, home: Home) -> list[str]:
    """The phrase alternations int_text_spans compiles to, in chunk order."""
    for command in (["seed", "--quiet"], ["compile", "--select", "int_text_spans", "--quiet"]):
        completed = dbt_in(project, home, *command)
        assert completed.returncode == 0, completed.stdout + completed.stderr
    (compiled,) = home.dbt_target.glob("compiled/**/int_text_spans.sql")
    sql = compiled.read_text(encoding="utf-8")
    # Each pass reads '(?:\b(?:cue|...) )?\b(?:phrase|...)\b': the optional negation cue, then the alternation.
    return re.findall(r"regexp_extract_all\(matchable_text, '\(\?:\\b\(\?:[^)]*\) \)\?\\b\(\?:(.*)\)\\b'\)", sql)


@pytest.mark.xdist_group("dbt_copy")
def test_a_new_phrase_joins_one_alternation_and_moves_no_other(tmp_path: Path) -> None:
    """Within an alternation the leftmost, longest-listed phrase consumes an overlapping one, so a phrase's
    chunk decides some matches: adding a phrase must leave every other chunk exactly as it was."""
    project = copy_dbt_project(tmp_path / "dbt_project")
    home = Home(tmp_path / "home").ensure()
    phrases = project / "seeds" / "criteria" / "criteria_text_phrases.csv"
    original = phrases.read_text(encoding="utf-8")
    new_phrase = "community scorecards for duty bearers"

    without = _phrase_alternations(project, home)
    phrases.write_text(original + f"text.hrba.accountability,en,{new_phrase}\n", encoding="utf-8")
    with_new = _phrase_alternations(project, home)
    if len(with_new) != len(without):
        # The phrase count just crossed a multiple of the chunk size: remove a phrase instead, which then cannot.
        last_line = original.rstrip("\n").rsplit("\n", 1)[1]
        new_phrase = last_line.split(",", 2)[2].strip('"')
        phrases.write_text(original, encoding="utf-8")
        with_new = _phrase_alternations(project, home)
        phrases.write_text(original.rstrip("\n").rsplit("\n", 1)[0] + "\n", encoding="utf-8")
        without = _phrase_alternations(project, home)

    assert len(without) == len(with_new) >= 2
    sizes = [len(_top_level_alternatives(chunk)) for chunk in with_new]
    # RE2 leaves its fast DFA between about 344 and 430 plain phrases per alternation (bench/README.md).
    assert max(sizes) <= 350, f"phrases per alternation: {sizes}"
    # Open-ended phrases (word classes, repeats) keep many partial matches alive: they have alternations of their
    # own, of at most 50.
    kinds = [
        {bool(re.search(r"\\[wsS]|[*+{]", phrase)) for phrase in _top_level_alternatives(chunk)} for chunk in with_new
    ]
    assert all(len(kind) == 1 for kind in kinds), "an alternation mixes plain and open-ended phrases"
    open_sizes = [size for size, kind in zip(sizes, kinds, strict=True) if kind == {True}]
    assert open_sizes and max(open_sizes) <= 50, f"open-ended phrases per alternation: {open_sizes}"
    changed = [index for index, (old, new) in enumerate(zip(without, with_new, strict=True)) if old != new]
    assert len(changed) == 1, f"chunks {changed} changed"
    assert new_phrase in with_new[changed[0]] and new_phrase not in without[changed[0]]


def test_the_seed_table_in_the_criteria_docs_matches_the_seed_files() -> None:
    """docs/criteria.md tells analysts how many rows each seed holds; a seed edit must update it."""
    documented = {
        name: int(rows)
        for name, rows in re.findall(
            r"^\| `((?:ref|criteria)_\w+)` \| (\d+) \|",
            (DBT_PROJECT_DIR.parent / "docs" / "criteria.md").read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    }
    seed_files = {path.stem: path for path in (DBT_PROJECT_DIR / "seeds").rglob("*.csv")}
    assert set(documented) == set(seed_files), "every seed, and only seeds, in docs/criteria.md's tables"
    counted = {
        name: duckdb.sql(f"select count(*) from read_csv('{path}', header = true, all_varchar = true)").fetchone()[0]
        for name, path in seed_files.items()
    }
    assert documented == counted


def phrase_rule_breaks(phrase: str) -> list[str]:
    """How a criteria phrase breaks the phrase writing rules of docs/criteria.md (none: an empty list).

    Each rule guards the SQL that reads phrases: a phrase is lower-cased text matched between word boundaries,
    joined into alternations, and linked back to its rule through its literal start (int_text_span_matches),
    which stops at the first top-level ``|``: "a|b c" would never credit "b c".
    """
    breaks = []
    if phrase != phrase.lower():
        breaks.append("upper case (texts are lower-cased before matching)")
    try:
        compiled = re.compile(phrase)
    except re.error as error:
        return [f"not a regular expression: {error}"]
    if compiled.fullmatch(""):
        breaks.append("matches the empty string")
    depth, position, in_class = 0, 0, False
    while position < len(phrase):
        character = phrase[position]
        if character == "\\":
            if not in_class and phrase[position + 1 : position + 2] in ("b", "B", "A", "z"):
                breaks.append(f"anchor \\{phrase[position + 1]}")
            position += 2
            continue
        if in_class:
            in_class = character != "]"
        elif character == "[":
            in_class = True
        elif character == "(":
            if not phrase.startswith("(?:", position):
                breaks.append("a capturing or look-around group (write (?:...))")
            depth += 1
        elif character == ")":
            depth -= 1
        elif character == "|" and depth == 0:
            breaks.append("a top-level | (write each alternative as its own phrase, or wrap them in (?:...))")
        elif character in "^$":
            breaks.append(f"anchor {character}")
        elif character == ".":
            breaks.append("an unescaped . (matches any character)")
        position += 1
    return breaks


def test_every_phrase_follows_the_phrase_writing_rules() -> None:
    """A phrase that breaks them loads, builds and publishes, and silently loses or misplaces its matches."""
    with (DBT_PROJECT_DIR / "seeds" / "criteria" / "criteria_text_phrases.csv").open(encoding="utf-8") as seed:
        breaks = {
            f"criteria_text_phrases.csv line {line} ({row['rule_id']}): {row['phrase']!r}": found
            for line, row in enumerate(csv.DictReader(seed), start=2)
            if (found := phrase_rule_breaks(row["phrase"]))
        }
    assert breaks == {}


@pytest.mark.parametrize(
    ("phrase", "broken"),
    [
        ("statelessness|birth (?:registration|certificates?)", "a top-level |"),
        ("(children) at risk", "a capturing or look-around group"),
        ("Refugee status", "upper case"),
        ("(?:extremely )?(?:poor)?", "matches the empty string"),
        ("(?:households|people", "not a regular expression"),
        ("^rights", "anchor ^"),
        ("rights.based", "an unescaped ."),
    ],
)
def test_the_phrase_check_catches_each_kind_of_break(phrase: str, broken: str) -> None:
    assert any(found.startswith(broken) for found in phrase_rule_breaks(phrase)), phrase_rule_breaks(phrase)
    assert phrase_rule_breaks("birth (?:registration|certificates?)") == []


def test_every_statement_has_english_french_and_spanish_phrases() -> None:
    """The real files are in all three languages: a rule written in one language misses the same statement in the
    others (the right to an adequate standard of living had only its English phrase)."""
    seeds = DBT_PROJECT_DIR / "seeds" / "criteria"
    with (seeds / "criteria_text_rules.csv").open(encoding="utf-8") as rules_file:
        statements = {row["rule_id"] for row in csv.DictReader(rules_file) if row["is_guard"] == "0"}
    languages: dict[str, set[str]] = {rule_id: set() for rule_id in statements}
    with (seeds / "criteria_text_phrases.csv").open(encoding="utf-8") as phrases_file:
        for row in csv.DictReader(phrases_file):
            languages.get(row["rule_id"], set()).add(row["language"])
    missing = {rule_id: sorted({"en", "fr", "es"} - found) for rule_id, found in languages.items()}
    assert {rule_id: gaps for rule_id, gaps in missing.items() if gaps} == {}
