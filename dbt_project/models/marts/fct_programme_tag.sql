-- One row per programme x criterion (pillar, humanitarian, marker, right, group, HRBA principle,
-- duty-bearer area, SDG target), carrying its strongest evidence and how much evidence there is. Key:
-- programme_id, criterion_type, criterion_code. Each evidence row is unnested into the criteria it
-- supports; only numbers are aggregated, then the winning evidence is joined back.

with

evidence as not materialized (

    select * from {{ ref('int_programme_evidence') }}

),

assessments as (

    select programme_id, hr_marker, is_rights from {{ ref('int_programme_assessment') }}

),

evidence_criteria as (

    select
        evidence.programme_id,
        unnest(list_filter([
            {'criterion_type': 'pillar', 'criterion_code': evidence.pillar_code},
            {'criterion_type': 'humanitarian', 'criterion_code': case when evidence.is_humanitarian then 'humanitarian' end},
            {'criterion_type': 'right', 'criterion_code': evidence.right_code},
            {'criterion_type': 'group', 'criterion_code': evidence.group_code},
            {'criterion_type': 'principle', 'criterion_code': evidence.principle_code},
            {'criterion_type': 'duty_bearer_area', 'criterion_code': evidence.area_code},
            {'criterion_type': 'sdg_target', 'criterion_code': evidence.sdg_target},
            -- The computed marker and the rights pillar are tags too, backed by the evidence that set them.
            {'criterion_type': 'hr_marker', 'criterion_code':
                case when assessments.hr_marker > 0 and evidence.marker_level = assessments.hr_marker
                    then cast(assessments.hr_marker as varchar) end},
            {'criterion_type': 'pillar', 'criterion_code':
                case when assessments.is_rights and evidence.marker_level = assessments.hr_marker then 'rights' end}
        ], criterion -> criterion.criterion_code is not null), recursive := true),
        evidence.strength_rank
    from evidence
    inner join assessments on assessments.programme_id = evidence.programme_id

),

strongest as (

    -- Strongest evidence first (int_programme_evidence.strength_rank, unique within a programme). Only
    -- numbers are aggregated, so a million programmes fit a small memory limit (DuckDB spills the rest).
    select
        programme_id,
        criterion_type,
        criterion_code,
        count(*) as evidence_count,
        min(strength_rank) as strength_rank
    from evidence_criteria
    group by programme_id, criterion_type, criterion_code

),

final as (

    select
        strongest.programme_id,
        strongest.criterion_type,
        strongest.criterion_code,
        evidence.rule_id,
        evidence.rule_kind,
        evidence.source_field,
        evidence.matched_text,
        evidence.marker_level,
        strongest.evidence_count,
        evidence.criteria_version
    from strongest
    inner join evidence
        on evidence.programme_id = strongest.programme_id
        and evidence.strength_rank = strongest.strength_rank

)

select * from final
