-- One row per agency: how visible human rights are across its programmes.

with

programmes as (

    -- Each piece of work once: a programme whose children are published here (a UNDP project and its outputs)
    -- is carried by them, with their budgets.
    select * from {{ ref('dim_programme') }}
    where child_programme_count = 0

),

discrepancies as (

    select * from {{ ref('fct_marker_discrepancy') }}

),

final as (

    select
        programmes.agency_code,
        -- An agency unknown to ref_agencies may publish its name differently: take one, the same every run.
        min(programmes.agency_name) as agency_name,
        count(*) as programmes,
        round(avg(programmes.hr_marker), 3) as average_hr_marker,
        round(avg((programmes.hr_marker >= 2)::int), 4) as share_marker_2_or_3,
        round(avg((programmes.hr_marker = 3)::int), 4) as share_principal,
        round(avg(programmes.is_peace::int), 4) as share_peace,
        round(avg(programmes.is_development::int), 4) as share_development,
        round(avg(programmes.is_humanitarian::int), 4) as share_humanitarian,
        round(avg(programmes.is_nexus::int), 4) as share_nexus,
        count(*) filter (where discrepancies.discrepancy in ('computed higher', 'computed lower'))
            as programmes_with_marker_discrepancy,
        {{ usd_budget_sum(alias='programmes') }} as budget_usd,
        {{ usd_budget_sum(where='programmes.hr_marker >= 2', alias='programmes') }} as budget_usd_marker_2_or_3
    from programmes
    inner join discrepancies on discrepancies.programme_id = programmes.programme_id
    group by programmes.agency_code

)

select * from final
