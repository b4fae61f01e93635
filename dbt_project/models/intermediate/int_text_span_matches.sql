-- What each distinct matched span means: one row per span and rule it supports. A few thousand rows however
-- many programmes there are, so the regex work on phrases (full match, negation) runs once per span.

with

spans as (

    select distinct matched_span from {{ ref('int_text_spans') }}

),

phrases as (

    select
        rule_id,
        language,
        phrase,
        {{ normalise_text('phrase') }} as normalised_phrase
    from {{ ref('criteria_text_phrases') }}

),

rules as (

    select * from {{ ref('criteria_text_rules') }}

),

phrase_keys as (

    -- The literal start of each phrase, up to its first regex operator (minus the character a following
    -- quantifier makes optional, as in "elections?"): a cheap join key before the full regex check.
    select
        *,
        case
            when substr(normalised_phrase, length(literal_run) + 1, 1) in ('?', '*', '{{ '{' }}')
                then left(literal_run, length(literal_run) - 1)
            else literal_run
        end as literal_prefix
    from (
        select *, regexp_extract(normalised_phrase, '^[^\\()\[\]?*+|{{ '{' }}.]*') as literal_run
        from phrases
    )

),

distinct_spans as (

    select
        matched_span,
        regexp_extract(matched_span, '^{{ negation_prefix() }}?(.*)$', 1) as stripped_span
    from spans

),

candidate_texts as (

    -- Both readings of each span: as a whole (a phrase may itself start with a negation word, as in
    -- "no dejar a nadie atras"), and without a leading negation cue.
    select matched_span as candidate_text from distinct_spans
    union
    select stripped_span from distinct_spans

),

candidate_phrases as (

    select
        candidate_texts.candidate_text,
        phrase_keys.rule_id,
        phrase_keys.language,
        phrase_keys.phrase
    from candidate_texts
    inner join phrase_keys on starts_with(candidate_texts.candidate_text, phrase_keys.literal_prefix)
    where regexp_full_match(candidate_texts.candidate_text, phrase_keys.normalised_phrase)

),

resolved_spans as (

    -- A span that is a phrase as a whole is not negated; otherwise it is read without its negation cue.
    select
        distinct_spans.matched_span,
        coalesce(whole.candidate_text, distinct_spans.stripped_span) as matched_text,
        whole.candidate_text is null and distinct_spans.matched_span <> distinct_spans.stripped_span as is_negated
    from distinct_spans
    left join (select distinct candidate_text from candidate_phrases) as whole
        on whole.candidate_text = distinct_spans.matched_span

),

matched_phrases as (

    -- What a rule's matched text says does not depend on the span it was read from.
    select
        rule_id,
        candidate_text as matched_text,
        min(phrase) as matched_phrase,
        min(language) as language
    from candidate_phrases
    group by rule_id, candidate_text

),

span_rules as (

    -- Negated matches of negatable rules are dropped.
    select
        resolved_spans.matched_span,
        matched_phrases.rule_id,
        resolved_spans.matched_text,
        matched_phrases.matched_phrase,
        matched_phrases.language,
        resolved_spans.is_negated,
        {{ evidence_tie_break('matched_phrases.rule_id', 'resolved_spans.matched_text') }} as tie_break
    from resolved_spans
    inner join matched_phrases on matched_phrases.matched_text = resolved_spans.matched_text
    inner join rules on rules.rule_id = matched_phrases.rule_id
    where not (rules.negatable = 1 and resolved_spans.is_negated)

)

select * from span_rules
