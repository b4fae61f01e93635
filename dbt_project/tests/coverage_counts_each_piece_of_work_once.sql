-- The coverage marts count each piece of work once: every programme without published children, and no
-- programme whose children are published (they carry its work and budgets). Rows are the marts that disagree.

with

programmes as (

    select count(*) filter (where child_programme_count = 0) as counted from {{ ref('dim_programme') }}

),

pillar_counts as (

    select pillar_code as cell, sum(programmes) as counted
    from {{ ref('coverage_pillar') }}
    group by pillar_code

),

mart_counts as (

    select 'coverage_pillar ' || cell as mart, counted from pillar_counts
    union all
    select 'coverage_nexus', sum(programmes) from {{ ref('coverage_nexus') }}
    union all
    select 'coverage_agency_scorecard', sum(programmes) from {{ ref('coverage_agency_scorecard') }}

)

select mart_counts.mart, mart_counts.counted, programmes.counted as expected
from mart_counts
cross join programmes
where mart_counts.counted is distinct from programmes.counted
