-- Per programme: the computed pillars, humanitarian determination, human rights marker and the
-- justification citing the evidence, next to what the publisher self-reported.

with

programmes as (

    select programme_id, is_humanitarian_by_publisher from {{ ref('int_programmes') }}

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

per_programme as (

    select
        programme_id,
        coalesce(max(marker_level), 0) as hr_marker,
        bool_or(pillar_code = 'peace') as has_peace_evidence,
        bool_or(pillar_code = 'development') as has_development_evidence,
        bool_or(is_humanitarian) as has_humanitarian_evidence,
        max(marker_level) filter (where source_field like 'policy_marker:%') as publisher_marker_level,
        count(*) as evidence_count,
        -- The justification cites the three strongest pieces of evidence (numbers here, words below).
        min(strength_rank, 3) filter (where marker_level > 0) as cited_ranks
    from evidence
    group by programme_id

),

cited_ranks as (

    select programme_id, unnest(cited_ranks) as strength_rank
    from per_programme

),

justification as (

    select
        cited_ranks.programme_id,
        string_agg(
            matches.rule_id || ' "' || matches.matched_text || '" in '
                || coalesce({{ rank_text_field('cited_ranks.strength_rank') }}, matches.source_field),
            '; ' order by cited_ranks.strength_rank
        ) as cited_evidence
    from cited_ranks
    inner join matches
        on matches.is_code = {{ rank_is_code('cited_ranks.strength_rank') }}
        and matches.tie_break = {{ rank_tie_break('cited_ranks.strength_rank') }}
    group by cited_ranks.programme_id

),

assessed as (

    select
        programmes.programme_id,
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
        per_programme.publisher_marker_level,
        coalesce(per_programme.evidence_count, 0) as evidence_count,
        'Marker ' || coalesce(per_programme.hr_marker, 0) || ' (' || marker_levels.marker_label || ')'
            || coalesce(
                ': ' || justification.cited_evidence,
                ': no human rights evidence found in text or codes'
            )
            as marker_justification,
        criteria_version.criteria_version
    from programmes
    left join per_programme on per_programme.programme_id = programmes.programme_id
    left join justification on justification.programme_id = programmes.programme_id
    left join publisher_markers on publisher_markers.programme_id = programmes.programme_id
    left join marker_levels on marker_levels.marker_level = coalesce(per_programme.hr_marker, 0)
    cross join criteria_version

)

select * from assessed
