-- Rights x country: how many programmes (and USD budget) carry each right in each country.

with

rights as (

    select * from {{ ref('bridge_programme_right') }}

),

programmes as (

    -- Each piece of work once: a programme whose children are published here (a UNDP project and its outputs)
    -- is carried by them, with their budgets.
    select * from {{ ref('dim_programme') }}
    where child_programme_count = 0

),

final as (

    select
        md5(concat_ws('|', coalesce(programmes.country_code, 'ZZ'), rights.right_code)) as coverage_right_country_id,
        coalesce(programmes.country_code, 'ZZ') as country_code,
        rights.right_code,
        any_value(rights.right_name) as right_name,
        count(distinct rights.programme_id) as programmes,
        count(distinct rights.programme_id) filter (where programmes.hr_marker >= 2) as programmes_marker_2_or_3,
        count(distinct rights.programme_id) filter (where rights.marker_level >= 2) as programmes_right_as_objective,
        {{ usd_budget_sum(alias='programmes') }} as budget_usd
    from rights
    inner join programmes on programmes.programme_id = rights.programme_id
    group by all

)

select * from final
