-- The publisher's self-reported policy markers per programme, as published (significance as text, so
-- agency scales such as IOM's 2A/2B survive): gender equality, participatory development / good
-- governance, disability. Leading-zero spellings ("01") count as the same marker.

with

codes as (

    select * from {{ ref('int_programme_codes') }}

),

markers as (

    select
        programme_id,
        case
            when vocabulary = '1' and ltrim(code, '0') = '1' then 'gender'
            when vocabulary = '1' and ltrim(code, '0') = '3' then 'governance'
            when vocabulary = '1' and ltrim(code, '0') = '11' then 'disability'
            when vocabulary = '99' and lower(coalesce(narrative, '')) like '%gender%' then 'gender'
        end as marker_name,
        coalesce(significance, code) as significance
    from codes
    where code_type = 'policy_marker'

),

pivoted as (

    select
        programme_id,
        max(significance) filter (where marker_name = 'gender') as publisher_gender_marker,
        max(significance) filter (where marker_name = 'governance') as publisher_governance_marker,
        max(significance) filter (where marker_name = 'disability') as publisher_disability_marker
    from markers
    where marker_name is not null
    group by programme_id

)

select * from pivoted
