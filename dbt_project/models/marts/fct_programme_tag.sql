-- One row per programme x criterion (pillar, humanitarian, marker, right, group, HRBA principle,
-- duty-bearer area, SDG target), carrying its strongest evidence and how much evidence there is. Key:
-- programme_id, criterion_type, criterion_code. Only integers go through the big aggregation: each piece of
-- evidence meets the criteria its match supports (a small lookup), tags are grouped on programme_key and a
-- criterion number, and the winning strength_rank itself says the marker level, the field and (through its
-- tie break) the rule and matched text, looked up in int_evidence_matches at the end.


{#- Low-cardinality text columns are written as ENUMs (enum_of): they read as text, write as integers. -#}
{%- set matches_relation = ref('int_evidence_matches') %}
{%- set type_enum = enum_of(extra=['pillar', 'humanitarian', 'right', 'group', 'principle', 'duty_bearer_area', 'sdg_target', 'hr_marker']) %}
{%- set code_enum = enum_of(
    'select pillar_code from ' ~ matches_relation ~ ' union select right_code from ' ~ matches_relation
    ~ ' union select group_code from ' ~ matches_relation ~ ' union select principle_code from ' ~ matches_relation
    ~ ' union select area_code from ' ~ matches_relation ~ ' union select sdg_target from ' ~ matches_relation,
    extra=['humanitarian', 'rights', '1', '2', '3']) %}
{%- set rule_enum = column_enum(matches_relation, 'rule_id') %}
{%- set kind_enum = enum_of(extra=['text', 'code']) %}
{%- set field_enum = column_enum(matches_relation, 'source_field', extra=evidence_fields()) %}
{%- set text_enum = column_enum(matches_relation, 'matched_text') %}
{%- set version_enum = column_enum(ref('int_criteria_version'), 'criteria_version') %}

with

evidence as (

    select programme_key, strength_rank from {{ ref('int_programme_evidence') }}

),

matches as (

    select * from {{ matches_relation }}

),

match_words as (

    select
        is_code,
        tie_break,
        cast(rule_id as {{ rule_enum }}) as rule_id,
        cast(rule_kind as {{ kind_enum }}) as rule_kind,
        cast(source_field as {{ field_enum }}) as source_field,
        cast(matched_text as {{ text_enum }}) as matched_text
    from matches

),

criteria_version as (

    select cast(criteria_version as {{ version_enum }}) as criteria_version from {{ ref('int_criteria_version') }}

),

assessments as (

    select
        programme_key, programme_id, hr_marker, is_rights, is_humanitarian, marker_strength_rank, marker_evidence_count
    from {{ ref('int_programme_assessment') }}

),

match_criteria as (

    -- The criteria each match supports (a few thousand rows).
    select
        is_code,
        tie_break,
        criterion.criterion_type,
        criterion.criterion_code,
        -- Only a pillar can depend on the field it was found in (counts_where_found).
        criterion.criterion_type != 'pillar' or is_pillar_from_objectives as counts_in_objectives
    from (
        select
            is_code,
            tie_break,
            is_pillar_from_objectives,
            unnest(list_filter([
                {'criterion_type': 'pillar', 'criterion_code': pillar_code},
                {'criterion_type': 'humanitarian', 'criterion_code': case when is_humanitarian then 'humanitarian' end},
                {'criterion_type': 'right', 'criterion_code': right_code},
                {'criterion_type': 'group', 'criterion_code': group_code},
                {'criterion_type': 'principle', 'criterion_code': principle_code},
                {'criterion_type': 'duty_bearer_area', 'criterion_code': area_code},
                {'criterion_type': 'sdg_target', 'criterion_code': sdg_target}
            ], criterion -> criterion.criterion_code is not null)) as criterion
        from matches
    )

),

criteria as (

    select
        cast(criterion_type as {{ type_enum }}) as criterion_type,
        cast(criterion_code as {{ code_enum }}) as criterion_code,
        row_number() over (order by criterion_type, criterion_code) as criterion_number
    from (select distinct criterion_type, criterion_code from match_criteria)

),

numbered_match_criteria as (

    select
        match_criteria.is_code,
        match_criteria.tie_break,
        criteria.criterion_number,
        match_criteria.counts_in_objectives
    from match_criteria
    inner join criteria
        on cast(criteria.criterion_type as varchar) = match_criteria.criterion_type
        and cast(criteria.criterion_code as varchar) = match_criteria.criterion_code

),

strongest as (

    -- Strongest evidence first (strength_rank is unique within a programme); numbers only, so a million
    -- programmes fit a small memory limit (DuckDB spills the rest).
    select
        evidence.programme_key,
        numbered_match_criteria.criterion_number,
        count(*) as evidence_count,
        min(evidence.strength_rank) as strength_rank
    from evidence
    inner join numbered_match_criteria
        on {{ rank_finds_match('numbered_match_criteria', 'evidence.strength_rank') }}
    where {{ counts_where_found('numbered_match_criteria.counts_in_objectives', 'evidence.strength_rank') }}
    group by evidence.programme_key, numbered_match_criteria.criterion_number

),

evidence_tags as (

    select
        strongest.programme_key,
        criteria.criterion_type,
        criteria.criterion_code,
        strongest.evidence_count,
        strongest.strength_rank
    from strongest
    inner join criteria on criteria.criterion_number = strongest.criterion_number

),

assessment_tags as (

    -- The computed marker and the rights pillar are tags too, backed by the evidence that set the marker.
    select
        programme_key,
        cast('hr_marker' as {{ type_enum }}) as criterion_type,
        cast(cast(hr_marker as varchar) as {{ code_enum }}) as criterion_code,
        marker_evidence_count as evidence_count,
        marker_strength_rank as strength_rank
    from assessments
    where hr_marker > 0
    union all
    select
        programme_key,
        cast('pillar' as {{ type_enum }}),
        cast('rights' as {{ code_enum }}),
        marker_evidence_count,
        marker_strength_rank
    from assessments
    where is_rights

),

tags as (

    select * from evidence_tags
    union all
    select * from assessment_tags

),

final as (

    select
        assessments.programme_id,
        tags.criterion_type,
        tags.criterion_code,
        match_words.rule_id,
        match_words.rule_kind,
        coalesce({{ rank_text_field('tags.strength_rank', field_enum) }}, match_words.source_field) as source_field,
        match_words.matched_text,
        {{ rank_marker_level('tags.strength_rank') }} as marker_level,
        tags.evidence_count,
        criteria_version.criteria_version
    from tags
    inner join assessments on assessments.programme_key = tags.programme_key
    inner join match_words
        on {{ rank_finds_match('match_words', 'tags.strength_rank') }}
    cross join criteria_version
    -- Humanitarian evidence can be outweighed (a general COVID-19 response framed as recovery work): the tag
    -- follows the programme's determination.
    where tags.criterion_type != 'humanitarian' or assessments.is_humanitarian

)

select * from final
