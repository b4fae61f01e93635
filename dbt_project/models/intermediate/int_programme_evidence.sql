{{ config(materialized="view") }}
-- A view: it fans text evidence out to programmes and unions code evidence (~15M rows per million
-- programmes); its readers re-read it faster than a table of it is written.

-- All evidence for all programmes (text and code), one row per programme, rule, field and matched text,
-- each stamped with the criteria version and ranked strongest first.

with

programme_texts as (

    select programme_id, source_field, text_key from {{ ref('int_programme_texts') }}

),

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

text_matches as (

    select
        programme_texts.programme_id,
        text_evidence.rule_id,
        'text' as rule_kind,
        programme_texts.source_field,
        text_evidence.matched_text,
        text_evidence.language,
        text_evidence.is_negated,
        cast(null as double) as code_percentage,
        -- What the title names is the programme's aim; every other field is body text (some publishers
        -- put their whole description in objectives).
        case
            when programme_texts.source_field = 'title' then text_rules.marker_level_title
            else text_rules.marker_level_body
        end as marker_level,
        text_rules.pillar_code,
        text_rules.is_humanitarian = 1 as is_humanitarian,
        text_rules.right_code,
        text_rules.group_code,
        text_rules.principle_code,
        text_rules.area_code,
        cast(null as varchar) as sdg_target,
        text_rules.rule_description,
        text_evidence.tie_break
    from programme_texts
    inner join text_evidence on text_evidence.text_key = programme_texts.text_key
    inner join text_rules on text_rules.rule_id = text_evidence.rule_id

),

unioned as (

    select * from text_matches
    union all
    select
        programme_id, rule_id, rule_kind, source_field, matched_text, null, false,
        percentage, marker_level, pillar_code, is_humanitarian,
        right_code, group_code, principle_code, area_code, sdg_target, rule_description, tie_break
    from code_evidence

),

stamped as (

    select
        unioned.* exclude (tie_break),
        {{ strength_rank('unioned.marker_level', 'unioned.source_field', 'unioned.rule_kind', 'unioned.tie_break') }}
            as strength_rank,
        criteria_version.criteria_version
    from unioned
    cross join criteria_version

)

select * from stamped
