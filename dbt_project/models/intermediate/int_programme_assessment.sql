-- Per programme: the computed pillars, humanitarian determination, human rights marker and the
-- justification citing the evidence, next to what the publisher self-reported.

{%- set cited_count = 3 %}

with

programmes as (

    select
        programme_id,
        {{ programme_key('programme_id') }} as programme_key,
        is_humanitarian_by_publisher
    from {{ ref('stg_ingest__programmes') }}

),

evidence as (

    select * from {{ ref('int_programme_evidence') }}

),

marker_levels as (

    select * from {{ ref('criteria_marker_levels') }}

),

criteria_version as (

    select criteria_version from {{ ref('int_criteria_version') }}

),

publisher_markers as (

    select * from {{ ref('int_publisher_markers') }}

),

matches as (

    select * from {{ ref('int_evidence_matches') }}

),

evidence_facts as (

    select
        evidence.programme_key,
        evidence.strength_rank,
        {{ rank_marker_level('evidence.strength_rank') }} as marker_level,
        case
            when {{ counts_where_found('matches.is_pillar_from_objectives', 'evidence.strength_rank') }}
                then matches.pillar_code
        end as pillar_code,
        matches.is_humanitarian,
        coalesce(matches.is_humanitarian_unless_recovery, false) as is_humanitarian_unless_recovery,
        matches.response_framing,
        matches.source_field
    from evidence
    inner join matches
        on {{ rank_finds_match('matches', 'evidence.strength_rank') }}

),

per_programme as (

    select
        programme_key,
        coalesce(max(marker_level), 0) as hr_marker,
        bool_or(pillar_code = 'peace') as has_peace_evidence,
        bool_or(pillar_code = 'development') as has_development_evidence,
        -- Humanitarian: a specific emergency response, pooled fund or emergency code decides it; a response
        -- named only in general terms (a COVID-19 response) decides it unless the programme's own text frames
        -- the work as socio-economic recovery or impact analysis and names no health work (the rubric's
        -- COVID-19 convention: recovery and studies are not humanitarian, an emergency health response is).
        bool_or(is_humanitarian and not is_humanitarian_unless_recovery)
            or (
                bool_or(is_humanitarian and is_humanitarian_unless_recovery)
                and not (
                    coalesce(bool_or(response_framing = 'recovery'), false)
                    and not coalesce(bool_or(response_framing = 'health'), false)
                )
            )
            as has_humanitarian_evidence,
        -- What the record shows besides the publisher's own policy markers, to set their claim against (text
        -- evidence has no source_field here: its field is read from the rank).
        max(marker_level) filter (where not coalesce(source_field like 'policy_marker:%', false))
            as marker_without_self_report,
        count(*) as evidence_count,
        -- How much evidence sits at each level: the marker's own evidence count is the one at its level.
        count(*) filter (where marker_level = 3) as level_3_count,
        count(*) filter (where marker_level = 2) as level_2_count,
        count(*) filter (where marker_level = 1) as level_1_count,
        -- The justification cites the strongest pieces of evidence (numbers here, words below).
        min(strength_rank, {{ cited_count }}) filter (where marker_level > 0) as cited_ranks
    from evidence_facts
    group by programme_key

),

justification as (

    -- The cited evidence in words: each of the (up to) {{ cited_count }} ranks looked up directly, no
    -- per-programme string aggregation. Each citation reads: what the rule recognises, in plain words; the
    -- text or code it matched; where; and the rule id that finds it in fct_programme_evidence.
    select
        per_programme.programme_key,
        nullif(concat_ws('; '
            {%- for position in range(1, cited_count + 1) %},
            cited_{{ position }}.evidence_label || ': "' || cited_{{ position }}.matched_text || '" in '
                || coalesce({{ rank_text_field('per_programme.cited_ranks[' ~ position ~ ']') }}, cited_{{ position }}.source_field)
                || ' [' || cited_{{ position }}.rule_id || ']'
            {%- endfor %}
        ), '') as cited_evidence
    from per_programme
    {%- for position in range(1, cited_count + 1) %}
    left join matches as cited_{{ position }}
        on {{ rank_finds_match('cited_' ~ position, 'per_programme.cited_ranks[' ~ position ~ ']') }}
    {%- endfor %}

),

assessed as (

    select
        programmes.programme_id,
        programmes.programme_key,
        coalesce(per_programme.hr_marker, 0) as hr_marker,
        coalesce(per_programme.has_peace_evidence, false) as is_peace,
        coalesce(per_programme.hr_marker, 0) >= 2 as is_rights,
        -- Every programme has at least one pillar: with no peace or rights objective it is development.
        coalesce(per_programme.has_development_evidence, false)
            or not (coalesce(per_programme.has_peace_evidence, false) or coalesce(per_programme.hr_marker, 0) >= 2)
            as is_development,
        coalesce(per_programme.has_humanitarian_evidence, false) as is_humanitarian,
        programmes.is_humanitarian_by_publisher,
        publisher_markers.publisher_gender_marker,
        publisher_markers.publisher_governance_marker,
        publisher_markers.publisher_disability_marker,
        publisher_markers.publisher_marker_level,
        coalesce(per_programme.marker_without_self_report, 0) as marker_without_self_report,
        coalesce(per_programme.evidence_count, 0) as evidence_count,
        per_programme.cited_ranks[1] as marker_strength_rank,
        case per_programme.hr_marker
            when 3 then per_programme.level_3_count
            when 2 then per_programme.level_2_count
            when 1 then per_programme.level_1_count
            else 0
        end as marker_evidence_count,
        'Marker ' || coalesce(per_programme.hr_marker, 0) || ' (' || marker_levels.marker_label || ')'
            || coalesce(
                ': ' || justification.cited_evidence,
                ': no human rights objective or mention found (rights served without being named: bridge_programme_right, level 0)'
            )
            as marker_justification,
        criteria_version.criteria_version
    from programmes
    left join per_programme on per_programme.programme_key = programmes.programme_key
    left join justification on justification.programme_key = programmes.programme_key
    left join publisher_markers on publisher_markers.programme_id = programmes.programme_id
    left join marker_levels on marker_levels.marker_level = coalesce(per_programme.hr_marker, 0)
    cross join criteria_version

)

select * from assessed
