-- Every distinct match - a rule and the text or code it matched - under the tie break that stands for it in
-- int_programme_evidence.strength_rank, with what the rule supports: a few thousand rows however many
-- programmes there are, so tags and justifications carry numbers through their aggregations and look the
-- words and the criteria up here at the end.

with

text_matches as (

    select distinct tie_break, rule_id, matched_text, matched_phrase, language
    from {{ ref('int_text_span_matches') }}

),

code_matches as (

    select distinct tie_break, rule_id, source_field, matched_text
    from {{ ref('int_code_evidence') }}

),

text_rules as (

    select * from {{ ref('criteria_text_rules') }}

),

code_rules as (

    select * replace (cast(sdg_target as varchar) as sdg_target) from {{ ref('criteria_code_rules') }}

),

matches as (

    select
        false as is_code,
        text_matches.tie_break,
        text_matches.rule_id,
        'text' as rule_kind,
        cast(null as varchar) as source_field,
        text_matches.matched_text,
        text_matches.matched_phrase,
        text_matches.language,
        -- What the title names is the programme's aim; every other field is body text (some publishers
        -- put their whole description in objectives).
        text_rules.marker_level_title as title_marker_level,
        text_rules.marker_level_body as body_marker_level,
        text_rules.pillar_code,
        -- Some statements name the setting as often as the aim in a narrative (a peace agreement signed):
        -- their pillar counts from every field but objectives (int_programme_assessment).
        coalesce(text_rules.pillar_from_objectives, 1) = 1 as is_pillar_from_objectives,
        text_rules.is_humanitarian = 1 as is_humanitarian,
        text_rules.humanitarian_unless_recovery = 1 as is_humanitarian_unless_recovery,
        text_rules.response_framing,
        text_rules.right_code,
        text_rules.group_code,
        text_rules.principle_code,
        text_rules.area_code,
        cast(null as varchar) as sdg_target,
        text_rules.rule_description,
        text_rules.evidence_label
    from text_matches
    inner join text_rules on text_rules.rule_id = text_matches.rule_id

    union all

    select
        true,
        code_matches.tie_break,
        code_matches.rule_id,
        'code',
        code_matches.source_field,
        code_matches.matched_text,
        null,
        null,
        -- A code's level can depend on its share (int_code_evidence): it is read off strength_rank.
        null,
        null,
        code_rules.pillar_code,
        true,
        code_rules.is_humanitarian = 1,
        false,
        null,
        code_rules.right_code,
        code_rules.group_code,
        code_rules.principle_code,
        code_rules.area_code,
        code_rules.sdg_target,
        code_rules.rationale,
        code_rules.evidence_label
    from code_matches
    inner join code_rules on code_rules.rule_id = code_matches.rule_id

)

select * from matches
