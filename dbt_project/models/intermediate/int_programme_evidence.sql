-- All evidence for all programmes (text and code), as numbers: one row per programme and piece of evidence,
-- ranked by strength_rank, which also names the evidence (its tie break finds the rule, matched text and
-- criteria in int_evidence_matches; for text, it holds the field). Text evidence found once per distinct
-- text is fanned out here to every programme that publishes that text.

with

programme_texts as (

    select programme_id, source_field, text_key from {{ ref('int_programme_texts') }}

),

text_evidence as (

    select * from {{ ref('int_text_evidence') }}

),

code_evidence as (

    select * from {{ ref('int_code_evidence') }}

),

text_levels as (

    select tie_break, title_marker_level, body_marker_level
    from {{ ref('int_evidence_matches') }}
    where not is_code

),

text_matches as (

    select
        {{ programme_key('programme_texts.programme_id') }} as programme_key,
        {{ strength_rank(
            "case when programme_texts.source_field = 'title' then text_levels.title_marker_level
                else text_levels.body_marker_level end",
            'programme_texts.source_field', "'text'", 'text_evidence.tie_break') }} as strength_rank,
        text_evidence.is_negated,
        cast(null as double) as code_percentage
    from programme_texts
    inner join text_evidence on text_evidence.text_key = programme_texts.text_key
    inner join text_levels on text_levels.tie_break = text_evidence.tie_break
    -- A rule with no body level is evidence only in a title (a bare "women" names the programme's subject
    -- there, and is a passing mention anywhere else).
    where programme_texts.source_field = 'title' or text_levels.body_marker_level is not null

),

code_matches as (

    select
        {{ programme_key('programme_id') }},
        {{ strength_rank('marker_level', 'source_field', "'code'", 'tie_break') }},
        false,
        percentage
    from code_evidence

)

select * from text_matches
union all
select * from code_matches
