-- Where humanitarian, development, peace and rights meet: programmes per agency, country and nexus.

with

programmes as (

    -- Each piece of work once: a programme whose children are published here (a UNDP project and its outputs)
    -- is carried by them, with their budgets.
    select * from {{ ref('dim_programme') }}
    where child_programme_count = 0

),

final as (

    select
        md5(concat_ws('|', agency_code, coalesce(country_code, 'ZZ'), nexus)) as coverage_nexus_id,
        agency_code,
        coalesce(country_code, 'ZZ') as country_code,
        nexus,
        any_value(is_nexus) as is_nexus,
        count(*) as programmes,
        {{ usd_budget_sum() }} as budget_usd
    from programmes
    group by all

)

select * from final
