-- Programme x rights-holder group the programme explicitly names or targets, with the strongest evidence.

with

tags as (

    select * from {{ ref('fct_programme_tag') }} where criterion_type = 'group'

),

groups as (

    select * from {{ ref('criteria_rights_holder_groups') }}

),

final as (

    select
        tags.programme_id || '|' || tags.criterion_code as programme_group_id,
        tags.programme_id,
        tags.criterion_code as group_code,
        groups.group_name,
        tags.rule_id,
        tags.source_field,
        tags.matched_text,
        tags.evidence_count,
        tags.criteria_version
    from tags
    left join groups on groups.group_code = tags.criterion_code

)

select * from final
