-- Programme x right, with the strongest evidence and how the programme carries the right (evidence_basis);
-- join criteria_rights for names.

{#- Its own codes only (the catalogue's), not every criterion code fct_programme_tag's ENUM holds. -#}
{%- set code_enum = column_enum(ref('criteria_rights'), 'right_code') %}

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
        cast(cast(tags.criterion_code as varchar) as {{ code_enum }}) as right_code,
        rights.right_name,
        tags.rule_id,
        tags.source_field,
        tags.matched_text,
        tags.marker_level,
        tags.evidence_count,
        -- How the programme carries the right, from its strongest evidence: a single mention in a long
        -- narrative is often background ("schools closed", another grant's work), so it is told apart.
        case
            when tags.marker_level >= 2 then 'aim'
            when tags.marker_level = 1 then 'mention'
            when tags.rule_kind = 'code' then 'code'
            when tags.source_field = 'title' then 'title'
            when tags.source_field = 'sector_narrative' then 'sector_narrative'
            when tags.evidence_count > 1 then 'body_repeated'
            else 'body_single'
        end as evidence_basis,
        tags.criteria_version
    from tags
    left join rights on rights.right_code = tags.criterion_code

)

select * from final
