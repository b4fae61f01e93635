-- Text evidence per DISTINCT text, as numbers: one row per text and match (a rule and the text it matched,
-- named by its tie break in int_evidence_matches). Programmes meet it through int_programme_texts.text_key
-- in int_programme_evidence, so per-programme rows are never written twice.

with

spans as (

    select * from {{ ref('int_text_spans') }}

),

span_matches as (

    select matched_span, tie_break, is_negated from {{ ref('int_text_span_matches') }}

),

text_evidence as (

    -- A match is negated only when a negation cue preceded every occurrence of it in the text.
    select
        spans.text_key,
        span_matches.tie_break,
        bool_and(span_matches.is_negated) as is_negated
    from spans
    inner join span_matches on span_matches.matched_span = spans.matched_span
    group by spans.text_key, span_matches.tie_break

)

select * from text_evidence
