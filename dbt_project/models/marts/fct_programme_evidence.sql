-- Every piece of evidence behind every tag: which rule fired, on which field, on what text or code.
-- Key: programme_id, rule_id, source_field, matched_text (fct_programme_tag names its evidence by them).

with

evidence as (

    select * from {{ ref('int_programme_evidence') }}

),

final as (

    select
        programme_id,
        rule_id,
        rule_kind,
        rule_description,
        source_field,
        matched_text,
        language,
        code_percentage,
        marker_level,
        pillar_code,
        is_humanitarian,
        right_code,
        group_code,
        principle_code,
        area_code,
        sdg_target,
        criteria_version
    from evidence

)

select * from final
