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

    {%- set criteria = [
        ('pillar', 'pillar_code'),
        ('humanitarian', "case when is_humanitarian then 'humanitarian' end"),
        ('right', 'right_code'),
        ('group', 'group_code'),
        ('principle', 'principle_code'),
        ('duty_bearer_area', 'area_code'),
        ('sdg_target', 'sdg_target'),
    ] %}
    {%- for criterion_type, expression in criteria %}
    select
        programme_id, '{{ criterion_type }}' as criterion_type, {{ expression }} as criterion_code,
        evidence_id, rule_id, rule_kind, source_field, matched_text, marker_level, field_rank
    from evidence
    where {{ expression }} is not null
    union all
    {%- endfor %}

    -- The computed marker and the rights pillar are tags too, backed by the evidence that set them.
    select
        evidence.programme_id, 'hr_marker', cast(assessments.hr_marker as varchar),
        evidence.evidence_id, evidence.rule_id, evidence.rule_kind, evidence.source_field, evidence.matched_text,
        evidence.marker_level, evidence.field_rank
    from evidence
    inner join assessments
        on assessments.programme_id = evidence.programme_id
        and assessments.hr_marker = evidence.marker_level
    where assessments.hr_marker > 0
    union all
    select
        evidence.programme_id, 'pillar', 'rights',
        evidence.evidence_id, evidence.rule_id, evidence.rule_kind, evidence.source_field, evidence.matched_text,
        evidence.marker_level, evidence.field_rank
    from evidence
    inner join assessments
        on assessments.programme_id = evidence.programme_id
        and assessments.hr_marker = evidence.marker_level
    where assessments.is_rights

),

strongest as (

    -- Strongest evidence first: highest marker level, then the most telling field, then text before codes.
    select
        programme_id,
        criterion_type,
        criterion_code,
        count(*) as evidence_count,
        arg_min(
            {'evidence_id': evidence_id, 'rule_id': rule_id, 'rule_kind': rule_kind, 'source_field': source_field,
             'matched_text': matched_text, 'marker_level': marker_level},
            [-marker_level, field_rank, case rule_kind when 'text' then 0 else 1 end]
        ) as evidence
    from evidence_criteria
    group by programme_id, criterion_type, criterion_code

),

criteria_version as (

    select criteria_version from {{ ref('int_criteria_version') }}

),

final as (

    select
        md5(concat_ws('|', strongest.programme_id, strongest.criterion_type, strongest.criterion_code))
            as programme_tag_id,
        strongest.programme_id,
        strongest.criterion_type,
        strongest.criterion_code,
        strongest.evidence.rule_id as rule_id,
        strongest.evidence.rule_kind as rule_kind,
        strongest.evidence.source_field as source_field,
        strongest.evidence.matched_text as matched_text,
        strongest.evidence.marker_level as marker_level,
        strongest.evidence_count,
        strongest.evidence.evidence_id as evidence_id,
        criteria_version.criteria_version
    from strongest
    cross join criteria_version

)

select * from final
