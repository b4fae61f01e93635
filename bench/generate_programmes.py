"""Generate a realistic synthetic raw zone of N programmes (English, French, Spanish) for benchmarks.

Texts are assembled from sentence fragments of the kind UN programme descriptions use (services, groups,
rights language, peace and humanitarian vocabulary, and plenty of neutral filler), so the tagger meets the
same mix of hits, false friends and misses as on real data. Text volume follows the 3,229 real activities in
the shared IATI sample: about 1.3 KB of text per programme on average (median 331 B), because a third of
real programmes carry long objectives of about 2.7 KB (OCHA pooled-fund projects) while most others have a
title and a short description. Descriptions, objectives and titles carry the programme's own figures, so
they are distinct, as real ones mostly are (matching runs once per distinct text). DuckDB writes the Parquet
files straight into MAINSTREAM_HOME/raw in the ingest package's schema.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import duckdb

from ingest.raw_zone import ensure_raw_zone, extract_file

log = logging.getLogger("bench.generate")

FRAGMENTS = {
    "en": [
        "The programme strengthens primary health care services in rural districts",
        "It supports access to justice and legal aid for women and girls",
        "Activities improve water supply and sanitation in schools",
        "The project builds the capacity of the national human rights institution",
        "Support is provided to livelihoods and food security of smallholder farmers",
        "Gender-based violence survivors receive psychosocial support and referral",
        "The initiative promotes social cohesion between communities affected by conflict",
        "Human resources management of the ministry is modernised",
        "Emergency response to the floods delivers shelter and relief items",
        "Refugees and asylum seekers receive documentation and legal counselling",
        "Youth employment and vocational training are expanded",
        "The project installs solar energy systems for health facilities",
        "Persons with disabilities participate in the design of local services",
        "Child protection committees monitor cases of abuse and exploitation",
        "Electoral management bodies are trained ahead of the elections",
        "The rights-of-way for the new road are cleared",
        "Statistics offices publish disaggregated data to leave no one behind",
        "Indigenous peoples are consulted on land management plans",
        "Mine action teams clear explosive remnants of war",
        "Climate adaptation measures protect coastal communities",
        "The reporting period covers procurement and financial management",
        "Monitoring and evaluation is carried out by an independent firm",
        "Internally displaced persons receive cash assistance",
        "Migrants are supported with safe and regular migration pathways",
    ],
    "fr": [
        "Le programme renforce les services de santé primaires dans les zones rurales",
        "Il appuie l'accès à la justice et l'aide juridique pour les femmes et les filles",
        "Les activités améliorent l'approvisionnement en eau et l'assainissement",
        "Le projet renforce l'institution nationale des droits de l'homme",
        "Les survivantes de violences basées sur le genre reçoivent un appui",
        "La cohésion sociale entre communautés touchées par le conflit est promue",
        "Les réfugiés reçoivent une documentation et un conseil juridique",
        "La gestion des ressources humaines du ministère est modernisée",
        "Les jeunes bénéficient de formations professionnelles",
        "La réponse d'urgence aux inondations fournit des abris",
        "Les personnes handicapées participent à la conception des services",
        "Le rapport couvre la gestion financière et les achats",
        "Les déplacés internes reçoivent une assistance en espèces",
        "Les enfants sont protégés contre la violence et l'exploitation",
    ],
    "es": [
        "El programa fortalece los servicios de salud en zonas rurales",
        "Apoya el acceso a la justicia y la asistencia jurídica para mujeres y niñas",
        "Las actividades mejoran el abastecimiento de agua y saneamiento",
        "El proyecto fortalece la institución nacional de derechos humanos",
        "Las sobrevivientes de violencia de género reciben apoyo psicosocial",
        "Se promueve la cohesión social entre comunidades afectadas por el conflicto",
        "Los refugiados y solicitantes de asilo reciben asesoría legal",
        "La gestión de recursos humanos del ministerio se moderniza",
        "Los jóvenes acceden a empleo y formación técnica",
        "La respuesta de emergencia a las inundaciones entrega refugio",
        "Las personas con discapacidad participan en el diseño de los servicios",
        "El informe cubre la gestión financiera y las adquisiciones",
        "Los pueblos indígenas son consultados sobre la gestión de tierras",
        "Los migrantes reciben apoyo para una migración segura",
    ],
}
SECTORS = [
    "12220",
    "15130",
    "15160",
    "15180",
    "15220",
    "31120",
    "72010",
    "11220",
    "14030",
    "15150",
    "16010",
    "23230",
    "41010",
    "15110",
    "13020",
]
OBJECTIVE_SENTENCES = 40
AGENCIES = ["XM-DAC-41114", "XM-DAC-41122", "XM-DAC-41121", "XM-DAC-47066", "XM-DAC-928", "XM-OCHA-CBPF"]


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def generate(raw_root: Path, count: int, sentences: int = 4, extract_id: str = "bench", first_number: int = 0) -> None:
    """Write ``count`` programmes and their codes as one extract into ``raw_root``.

    Programmes are numbered from ``first_number``: a second extract with its own ``extract_id`` and numbers after
    the first one's adds new programmes (a later drop) to the same raw zone.
    """
    ensure_raw_zone(raw_root)
    connection = duckdb.connect()
    lineage = (
        f"'{extract_id}' as extract_id, '{extract_id}.parquet' as source_file, '{extract_id}' as content_hash, "
        f"'iati_xml' as source_format, i - {first_number} + 1 as record_number, "
        "timestamptz '2026-01-01 00:00:00+00' as loaded_at"
    )
    # 70 % English, 15 % French, 15 % Spanish
    description = " || '. ' || ".join(f"pick(fragments[lang], hash(i, {n}))" for n in range(sentences))
    # A closing sentence with the programme's own figures, as real descriptions have: without it most
    # descriptions would repeat exactly (in the real files, 1,848 of 2,097 descriptions are distinct), and
    # matching, which runs once per distinct text, would look cheaper than it is.
    reach = (
        "[' It reaches ', ' Il touche ', ' Llega a '][lang] || (1000 + hash(i, 50) % 90000)::varchar"
        " || [' people in ', ' personnes dans ', ' personas en '][lang] || (2 + hash(i, 51) % 40)::varchar"
        " || [' districts', ' districts', ' distritos'][lang]"
    )
    # Titles as long as real ones (82 characters on average) and mostly distinct: a focus and a place.
    title = "pick(fragments[lang], hash(i, 98)) || ' (' || (1 + hash(i, 97) % 5000)::varchar || ')'"
    # Long objectives (about 2.7 KB, 40 sentences) on 35 % of programmes, as in the real files.
    objectives = (
        f"array_to_string(list_transform(range({OBJECTIVE_SENTENCES}), "
        "n -> pick(fragments[lang], hash(i, 100 + n))), '. ')"
    )
    connection.execute("create macro pick(choices, seed) as choices[(1 + seed % len(choices))::bigint]")
    started = time.perf_counter()
    connection.execute(
        f"""
        copy (
            with numbered as (
                select
                    i,
                    case when i % 20 < 14 then 1 when i % 20 < 17 then 2 else 3 end as lang,
                    [{_sql_list(FRAGMENTS["en"])}, {_sql_list(FRAGMENTS["fr"])},
                     {_sql_list(FRAGMENTS["es"])}] as fragments
                from range({first_number}, {first_number + count}) as t(i)
            )
            select
                'BENCH-' || lpad(i::varchar, 8, '0') as programme_id,
                pick({_sql_list(AGENCIES)}, i) as agency_ref,
                null::varchar as reporting_org_name,
                {title} as title,
                {description} || '.' || {reach} || '.' as description,
                case when hash(i, 5) % 20 < 7 then {objectives} || '.' || {reach} || '.' end as objectives,
                null::varchar as target_groups,
                null::varchar as other_description,
                ['en', 'fr', 'es'][lang] as languages,
                '2' as activity_status,
                date '2020-01-01' + (i % 1500)::integer as start_date,
                date '2024-01-01' + (i % 900)::integer as end_date,
                case when i % 7 = 0 then true end as humanitarian_flag,
                'USD' as default_currency,
                (10000 + hash(i) % 5000000)::double as budget_value,
                'USD' as budget_currency,
                {lineage}
            from numbered
        ) to '{extract_file(raw_root, "programmes", extract_id)}' (format parquet, compression zstd)
        """
    )
    connection.execute(
        f"""
        copy (
            select
                'BENCH-' || lpad(i::varchar, 8, '0') as programme_id,
                code_type, vocabulary, code, significance, percentage, null::varchar as narrative,
                {lineage}
            from range({first_number}, {first_number + count}) as t(i),
            lateral (
                select 'sector' as code_type, '1' as vocabulary,
                       pick({_sql_list(SECTORS)}, hash(i, 1)) as code,
                       null::varchar as significance, 60.0 as percentage
                union all
                select 'sector', '1', pick({_sql_list(SECTORS)}, hash(i, 2)), null, 40.0
                union all
                select 'recipient_country', 'ISO3166-1', pick(['KE', 'SN', 'CO', 'UA', 'AF', 'BD'], i), null, 100.0
                union all
                select 'policy_marker', '1', '1', (i % 3)::varchar, null where i % 2 = 0
            )
        ) to '{extract_file(raw_root, "programme_codes", extract_id)}' (format parquet, compression zstd)
        """
    )
    log.info("generated %d programmes in %.1f s under %s", count, time.perf_counter() - started, raw_root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_root", type=Path, help="MAINSTREAM_HOME/raw to write into")
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    generate(args.raw_root, args.count)


if __name__ == "__main__":
    main()
