-- Every code each programme publishes, as the criteria read it: sectors in every vocabulary (with their
-- percentages), SDG goals and targets, tags, policy markers (with their significance), humanitarian scopes,
-- recipient countries and regions, related activities. A code tag's evidence (fct_programme_evidence, rule_kind
-- 'code') can be checked here against everything the programme published, e.g. the percentage that made a
-- principal-level sector support only a significant objective.

with

codes as (

    select * from {{ ref('int_programme_codes') }}

),

final as (

    select
        programme_id,
        code_type,
        vocabulary,
        code,
        significance,
        percentage,
        narrative
    from codes

)

select * from final
