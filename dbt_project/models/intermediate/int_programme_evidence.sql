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

criteria_version as (

    select criteria_version from {{ ref('int_criteria_version') }}

),

unioned as (

    select
        evidence_id, programme_id, rule_id, rule_kind, source_field, matched_text, language, is_negated,
        cast(null as double) as code_percentage, marker_level, pillar_code, is_humanitarian,
        right_code, group_code, principle_code, area_code, sdg_target, rule_description
    from text_evidence
    union all
    select
        evidence_id, programme_id, rule_id, rule_kind, source_field, matched_text, null, false,
        percentage, marker_level, pillar_code, is_humanitarian,
        right_code, group_code, principle_code, area_code, sdg_target, rule_description
    from code_evidence

),

stamped as (

    select
        unioned.*,
        -- Field strength orders evidence for display and justification: what the title says first.
        case unioned.source_field
            when 'title' then 1
            when 'objectives' then 2
            when 'description' then 3
            when 'target_groups' then 4
            when 'other_description' then 5
            when 'sector_narrative' then 6
            else 7
        end as field_rank,
        criteria_version.criteria_version
    from unioned
    cross join criteria_version

)

select * from stamped
