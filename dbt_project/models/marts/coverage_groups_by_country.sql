-- Rights-holder groups x country: how many programmes name or target each group in each country.

with

groups as (

    select * from {{ ref('bridge_programme_group') }}

),

programmes as (

    -- Each piece of work once: a programme whose children are published here (a UNDP project and its outputs)
    -- is carried by them, with their budgets.
    select * from {{ ref('dim_programme') }}
    where child_programme_count = 0

),

final as (

    select
        md5(concat_ws('|', coalesce(programmes.country_code, 'ZZ'), groups.group_code)) as coverage_group_country_id,
        coalesce(programmes.country_code, 'ZZ') as country_code,
        groups.group_code,
        any_value(groups.group_name) as group_name,
        count(distinct groups.programme_id) as programmes,
        count(distinct groups.programme_id) filter (where programmes.hr_marker >= 2) as programmes_marker_2_or_3,
        {{ usd_budget_sum(alias='programmes') }} as budget_usd
    from groups
    inner join programmes on programmes.programme_id = groups.programme_id
    group by all

)

select * from final
