-- Self-reported vs computed: what the publisher's own policy markers claim on the human rights marker's scale
-- (criteria_publisher_marker_claims), set against what the rest of the record shows. The published hr_marker
-- also credits the markers themselves (a marker alone is "limited"), so the comparison leaves them out.

with

programmes as (

    select * from {{ ref('dim_programme') }}

),

assessments as (

    select * from {{ ref('int_programme_assessment') }}

),

final as (

    select
        programmes.programme_id,
        programmes.agency_code,
        programmes.country_code,
        programmes.publisher_gender_marker,
        programmes.publisher_governance_marker,
        programmes.publisher_disability_marker,
        programmes.publisher_marker_level,
        programmes.hr_marker,
        assessments.marker_without_self_report,
        assessments.marker_without_self_report - programmes.publisher_marker_level as marker_difference,
        case
            when programmes.publisher_marker_level is null then 'not self-reported'
            when assessments.marker_without_self_report > programmes.publisher_marker_level then 'computed higher'
            when assessments.marker_without_self_report < programmes.publisher_marker_level then 'computed lower'
            else 'agree'
        end as discrepancy,
        programmes.marker_justification
    from programmes
    inner join assessments on assessments.programme_id = programmes.programme_id

)

select * from final
