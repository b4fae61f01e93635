-- Self-reported vs computed: the publisher's own policy markers next to the computed human rights marker.

with

programmes as (

    select * from {{ ref('dim_programme') }}

),

final as (

    select
        programme_id,
        agency_code,
        country_code,
        publisher_gender_marker,
        publisher_governance_marker,
        publisher_disability_marker,
        publisher_marker_level,
        hr_marker,
        hr_marker - publisher_marker_level as marker_difference,
        case
            when publisher_marker_level is null then 'not self-reported'
            when hr_marker > publisher_marker_level then 'computed higher'
            when hr_marker < publisher_marker_level then 'computed lower'
            else 'agree'
        end as discrepancy,
        marker_justification
    from programmes

)

select * from final
