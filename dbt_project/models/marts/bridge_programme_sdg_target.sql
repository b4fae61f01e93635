-- Programme x SDG target the publisher coded (sector vocabulary 8 or tag vocabulary 3), with its text.

{#- Its own codes only (the catalogue's), not every criterion code fct_programme_tag's ENUM holds. -#}
{%- set code_enum = column_enum(ref('ref_sdg_targets'), 'sdg_target') %}

with

tags as (

    select * from {{ ref('fct_programme_tag') }} where criterion_type = 'sdg_target'

),

targets as (

    select * from {{ ref('ref_sdg_targets') }}

),

final as (

    select
        tags.programme_id || '|' || tags.criterion_code as programme_sdg_target_id,
        tags.programme_id,
        cast(cast(tags.criterion_code as varchar) as {{ code_enum }}) as sdg_target,
        targets.sdg_goal,
        targets.sdg_target_text,
        tags.rule_id,
        tags.source_field,
        tags.matched_text,
        tags.criteria_version
    from tags
    left join targets on cast(targets.sdg_target as varchar) = tags.criterion_code

)

select * from final
