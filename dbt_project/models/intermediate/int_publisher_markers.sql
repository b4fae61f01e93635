-- The publisher's self-reported policy markers per programme, as published (significance as text, so
-- agency scales such as IOM's 2A/2B survive): gender equality, participatory development / good
-- governance, disability. Leading-zero spellings ("01") count as the same marker. Next to them, the level
-- they claim on the human rights marker's scale (criteria_publisher_marker_claims): the highest claim of any.

with

codes as (

    select * from {{ ref('int_programme_codes') }}

),

claims as (

    select * from {{ ref('criteria_publisher_marker_claims') }}

),

markers as (

    select
        programme_id,
        vocabulary,
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

claimed as (

    select
        markers.*,
        claims.claimed_marker_level
    from markers
    left join claims
        on claims.policy_marker_vocabulary = markers.vocabulary
        -- DAC significances may carry leading zeros ("02"); agency scales are matched as published.
        and claims.significance = case
            when markers.vocabulary = '1' then coalesce(nullif(ltrim(markers.significance, '0'), ''), '0')
            else markers.significance
        end
    where markers.marker_name is not null

),

pivoted as (

    select
        programme_id,
        max(significance) filter (where marker_name = 'gender') as publisher_gender_marker,
        max(significance) filter (where marker_name = 'governance') as publisher_governance_marker,
        max(significance) filter (where marker_name = 'disability') as publisher_disability_marker,
        max(claimed_marker_level) as publisher_marker_level
    from claimed
    group by programme_id

)

select * from pivoted
