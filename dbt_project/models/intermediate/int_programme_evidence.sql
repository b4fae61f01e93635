{{ config(materialized="view") }}
-- A view: it only unions two evidence tables; materialising ~15M rows per million programmes cost more
-- than its three readers re-reading the union.

-- All evidence for all programmes (text and code), each row stamped with the criteria version.

with

text_evidence as (

    select * from {{ ref('int_text_evidence') }}

),

code_evidence as (

    select * from {{ ref('int_code_evidence') }}

),

text_rules as (

    select * from {{ ref('criteria_text_rules') }}

),

criteria_version as (

    select criteria_version from {{ ref('int_criteria_version') }}

),

unioned as (

    select
        text_evidence.programme_id, text_evidence.rule_id, text_evidence.rule_kind,
        text_evidence.source_field, text_evidence.matched_text, text_evidence.language, text_evidence.is_negated,
        cast(null as double) as code_percentage, text_evidence.marker_level, text_rules.pillar_code,
        text_rules.is_humanitarian = 1 as is_humanitarian, text_rules.right_code, text_rules.group_code,
        text_rules.principle_code, text_rules.area_code, cast(null as varchar) as sdg_target,
        text_rules.rule_description, text_evidence.strength_rank
    from text_evidence
    inner join text_rules on text_rules.rule_id = text_evidence.rule_id
    union all
    select
        programme_id, rule_id, rule_kind, source_field, matched_text, null, false,
        percentage, marker_level, pillar_code, is_humanitarian,
        right_code, group_code, principle_code, area_code, sdg_target, rule_description, strength_rank
    from code_evidence

),

stamped as (

    select
        unioned.*,
        {{ field_rank('unioned.source_field') }} as field_rank,
        criteria_version.criteria_version
    from unioned
    cross join criteria_version

)

select * from stamped
