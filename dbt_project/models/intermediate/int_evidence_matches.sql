-- Every distinct match - a rule and the text or code it matched - under the tie break that stands for it in
-- int_programme_evidence.strength_rank: a few thousand rows however many programmes there are, so tags and
-- justifications carry numbers through their aggregations and look the words up here at the end.

with

text_evidence as (

    select * from {{ ref('int_text_evidence') }}

),

code_evidence as (

    select * from {{ ref('int_code_evidence') }}

),

matches as (

    select distinct
        false as is_code, tie_break, rule_id, 'text' as rule_kind, cast(null as varchar) as source_field, matched_text
    from text_evidence
    union all
    select distinct true, tie_break, rule_id, rule_kind, source_field, matched_text
    from code_evidence

)

select * from matches
