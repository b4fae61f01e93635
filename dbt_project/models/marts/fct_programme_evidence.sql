-- Every piece of evidence behind every tag: which rule fired, on which field, on what text or code.
-- Key: programme_id, rule_id, source_field, matched_text (fct_programme_tag names its evidence by them).
-- The words come from int_evidence_matches; its text columns are written as ENUMs (enum_of), which read as
-- text but write as small integers (this mart has ~15 rows per programme).

{%- set matches_relation = ref('int_evidence_matches') %}
{%- set enum_columns = ['rule_id', 'rule_kind', 'rule_description', 'matched_text', 'language', 'pillar_code',
    'right_code', 'group_code', 'principle_code', 'area_code', 'sdg_target'] %}
{%- set field_enum = column_enum(matches_relation, 'source_field', extra=evidence_fields()) %}

with

evidence as (

    select * from {{ ref('int_programme_evidence') }}

),

matches as (

    select
        is_code,
        tie_break,
        {%- for column in enum_columns %}
        cast({{ column }} as {{ column_enum(matches_relation, column) }}) as {{ column }},
        {%- endfor %}
        cast(source_field as {{ field_enum }}) as source_field,
        is_humanitarian
    from {{ matches_relation }}

),

programmes as (

    select programme_key, programme_id from {{ ref('int_programme_assessment') }}

),

criteria_version as (

    select
        cast(criteria_version as {{ column_enum(ref('int_criteria_version'), 'criteria_version') }})
            as criteria_version
    from {{ ref('int_criteria_version') }}

),

final as (

    select
        programmes.programme_id,
        matches.rule_id,
        matches.rule_kind,
        matches.rule_description,
        coalesce({{ rank_text_field('evidence.strength_rank', field_enum) }}, matches.source_field) as source_field,
        matches.matched_text,
        matches.language,
        evidence.is_negated,
        evidence.code_percentage,
        {{ rank_marker_level('evidence.strength_rank') }} as marker_level,
        matches.pillar_code,
        matches.is_humanitarian,
        matches.right_code,
        matches.group_code,
        matches.principle_code,
        matches.area_code,
        matches.sdg_target,
        criteria_version.criteria_version
    from evidence
    inner join programmes on programmes.programme_key = evidence.programme_key
    inner join matches
        on {{ rank_finds_match('matches', 'evidence.strength_rank') }}
    cross join criteria_version

)

select * from final
