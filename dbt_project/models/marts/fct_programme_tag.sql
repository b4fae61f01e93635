-- One row per programme x criterion (pillar, humanitarian, marker, right, group, HRBA principle,
-- duty-bearer area, SDG target), carrying its strongest evidence and how much evidence there is.

with

evidence as (

    select * from {{ ref('int_programme_evidence') }}

),

assessments as (

    select * from {{ ref('int_programme_assessment') }}

),

evidence_criteria as (

    select
        evidence.*,
        unnest([
            {'criterion_type': 'pillar', 'criterion_code': evidence.pillar_code},
            {'criterion_type': 'humanitarian', 'criterion_code': case when evidence.is_humanitarian then 'humanitarian' end},
            {'criterion_type': 'right', 'criterion_code': evidence.right_code},
            {'criterion_type': 'group', 'criterion_code': evidence.group_code},
            {'criterion_type': 'principle', 'criterion_code': evidence.principle_code},
            {'criterion_type': 'duty_bearer_area', 'criterion_code': evidence.area_code},
            {'criterion_type': 'sdg_target', 'criterion_code': evidence.sdg_target}
        ], recursive := true)
    from evidence

),

marker_criteria as (

    -- The computed marker and the rights pillar are tags too, backed by the evidence that set them.
    select evidence.*, 'hr_marker' as criterion_type, cast(assessments.hr_marker as varchar) as criterion_code
    from evidence
    inner join assessments
        on assessments.programme_id = evidence.programme_id
        and assessments.hr_marker = evidence.marker_level
    where assessments.hr_marker > 0
    union all
    select evidence.*, 'pillar', 'rights'
    from evidence
    inner join assessments
        on assessments.programme_id = evidence.programme_id
        and assessments.hr_marker = evidence.marker_level
    where assessments.is_rights

),

all_criteria as (

    select * from evidence_criteria where criterion_code is not null
    union all by name
    select * from marker_criteria

),

ranked as (

    select
        *,
        count(*) over (partition by programme_id, criterion_type, criterion_code) as evidence_count,
        row_number() over (
            partition by programme_id, criterion_type, criterion_code
            order by marker_level desc, field_rank, rule_kind desc, rule_id, matched_text
        ) as evidence_rank
    from all_criteria

),

final as (

    select
        md5(concat_ws('|', programme_id, criterion_type, criterion_code)) as programme_tag_id,
        programme_id,
        criterion_type,
        criterion_code,
        rule_id,
        rule_kind,
        source_field,
        matched_text,
        marker_level,
        evidence_count,
        evidence_id,
        criteria_version
    from ranked
    where evidence_rank = 1

)

select * from final
