-- Where humanitarian, development, peace and rights meet: programmes per agency, country and nexus.

with

programmes as (

    select * from {{ ref('dim_programme') }}

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
