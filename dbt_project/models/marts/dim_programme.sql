with

programmes as (

    select * from {{ ref('int_programmes') }}

),

assessments as (

    select * from {{ ref('int_programme_assessment') }}

),

final as (

    select
        ---------- ids
        programmes.programme_id,
        programmes.agency_code,

        ---------- descriptive
        programmes.agency_name,
        programmes.title,
        programmes.description,
        programmes.country_code,
        programmes.country_name,
        programmes.country_codes,
        programmes.parent_programme_id,
        programmes.child_programme_count,
        programmes.languages,
        programmes.activity_status,

        ---------- tagging
        assessments.is_peace,
        assessments.is_development,
        assessments.is_rights,
        assessments.is_humanitarian,
        nullif(concat_ws('-',
            case when assessments.is_humanitarian then 'humanitarian' end,
            case when assessments.is_development then 'development' end,
            case when assessments.is_peace then 'peace' end,
            case when assessments.is_rights then 'rights' end
        ), '') as nexus,
        (assessments.is_humanitarian::int + assessments.is_development::int
            + assessments.is_peace::int + assessments.is_rights::int) >= 2 as is_nexus,
        assessments.hr_marker,
        assessments.marker_justification,
        assessments.evidence_count,
        assessments.is_humanitarian_by_publisher,
        assessments.publisher_gender_marker,
        assessments.publisher_governance_marker,
        assessments.publisher_disability_marker,
        assessments.publisher_marker_level,
        assessments.criteria_version,

        ---------- numerics and dates
        programmes.budget_value,
        programmes.budget_currency,
        programmes.start_date,
        programmes.end_date,
        programmes.start_year,

        ---------- lineage
        programmes.extract_id,
        programmes.source_file,
        programmes.content_hash,
        programmes.source_format,
        programmes.record_number,
        programmes.loaded_at

    from programmes
    inner join assessments on assessments.programme_id = programmes.programme_id

)

select * from final
