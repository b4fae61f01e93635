-- Programme x rights-holder group the programme explicitly names or targets, with the strongest evidence.

{#- Its own codes only (the catalogue's), not every criterion code fct_programme_tag's ENUM holds. -#}
{%- set code_enum = column_enum(ref('criteria_rights_holder_groups'), 'group_code') %}

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
        cast(cast(tags.criterion_code as varchar) as {{ code_enum }}) as group_code,
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
