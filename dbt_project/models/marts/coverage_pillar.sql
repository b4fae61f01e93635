-- How far programmes carry each pillar, by agency, country and start year: counts and, where budgets are
-- published in US dollars, budget-weighted (other currencies are not converted: no exchange-rate table).

with

programmes as (

    -- Each piece of work once: a programme whose children are published here (a UNDP project and its outputs)
    -- is carried by them, with their budgets.
    select * from {{ ref('dim_programme') }}
    where child_programme_count = 0

),

pillars as (

    unpivot (
        select programme_id, agency_code, country_code, start_year, budget_value, budget_currency,
            is_peace as peace, is_development as development, is_rights as rights, is_humanitarian as humanitarian
        from programmes
    )
    on peace, development, rights, humanitarian
    into name pillar_code value carries_pillar

),

aggregated as (

    select
        agency_code,
        coalesce(country_code, 'ZZ') as country_code,
        coalesce(start_year, 0) as start_year,
        pillar_code,
        count(*) as programmes,
        count(*) filter (where carries_pillar) as programmes_with_pillar,
        round(count(*) filter (where carries_pillar) / count(*), 4) as share_with_pillar,
        {{ usd_budget_sum() }} as budget_usd,
        {{ usd_budget_sum(where='carries_pillar') }} as budget_usd_with_pillar
    from pillars
    group by all

),

final as (

    select
        md5(concat_ws('|', agency_code, country_code, start_year, pillar_code)) as coverage_pillar_id,
        *,
        round(budget_usd_with_pillar / nullif(budget_usd, 0), 4) as budget_share_with_pillar
    from aggregated

)

select * from final
