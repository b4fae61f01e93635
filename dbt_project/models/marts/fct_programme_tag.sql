-- One row per programme x criterion (pillar, humanitarian, marker, right, group, HRBA principle,
-- duty-bearer area, SDG target), carrying its strongest evidence and how much evidence there is. Key:
-- programme_id, criterion_type, criterion_code. Each evidence row is unnested into the criteria it
-- supports; only numbers are aggregated: the winning strength_rank itself says the marker level, the field
-- and (through its tie break) the rule and matched text, looked up in int_evidence_matches.

with

evidence as (

    select * from {{ ref('int_programme_evidence') }}

),

matches as (

    select * from {{ ref('int_evidence_matches') }}

),

criteria_version as (

    select criteria_version from {{ ref('int_criteria_version') }}

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

decoded as (

    select
        *,
        {{ rank_marker_level('strength_rank') }} as marker_level,
        {{ rank_text_field('strength_rank') }} as text_field,
        {{ rank_is_code('strength_rank') }} as is_code,
        {{ rank_tie_break('strength_rank') }} as tie_break
    from strongest

),

final as (

    select
        decoded.programme_id,
        decoded.criterion_type,
        decoded.criterion_code,
        matches.rule_id,
        matches.rule_kind,
        coalesce(decoded.text_field, matches.source_field) as source_field,
        matches.matched_text,
        decoded.marker_level,
        decoded.evidence_count,
        criteria_version.criteria_version
    from decoded
    inner join matches on matches.is_code = decoded.is_code and matches.tie_break = decoded.tie_break
    cross join criteria_version

)

select * from final
