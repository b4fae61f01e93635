-- Programme x right, with the strongest evidence; join criteria_rights for names.

with

tags as (

    select * from {{ ref('fct_programme_tag') }} where criterion_type = 'right'

),

rights as (

    select * from {{ ref('criteria_rights') }}

),

final as (

    select
        tags.programme_id || '|' || tags.criterion_code as programme_right_id,
        tags.programme_id,
        tags.criterion_code as right_code,
        rights.right_name,
        tags.rule_id,
        tags.source_field,
        tags.matched_text,
        tags.marker_level,
        tags.evidence_count,
        tags.criteria_version
    from tags
    left join rights on rights.right_code = tags.criterion_code

)

select * from final
