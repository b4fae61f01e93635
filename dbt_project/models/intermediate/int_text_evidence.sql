-- Text evidence per DISTINCT text: every criteria phrase found in it, one row per text, rule and matched
-- text. Set-based, no programme x rule cross join: each distinct text (publishers repeat titles and
-- boilerplate) is normalised and scanned once by a few RE2 alternations of all phrases; each distinct
-- matched span is mapped to the phrases it fully matches. Programmes meet their evidence through
-- int_programme_texts.text_key in int_programme_evidence, so the per-programme rows are never written
-- twice.

{%- set cues = value_alternation(ref('criteria_negation_cues'), 'cue') %}
{%- set guard_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules'), guards=true) %}
{%- set phrase_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules')) %}
{%- set negation_prefix = '(?:(?:' ~ cues ~ ') (?:\\w+ ){0,2}?)' %}

with

texts as (

    select * from {{ ref('int_programme_texts') }}

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

distinct_texts as (

    select distinct text_key, original_text from texts

),

guarded_texts as (

    -- False friends ("human resources", "rights-of-way", "copyright") are blanked out before matching.
    {%- set guarded = namespace(expression=normalise_text('original_text')) %}
    {%- for chunk in guard_chunks %}
    {%- set guarded.expression = "regexp_replace(" ~ guarded.expression ~ ", '\\b(?:" ~ chunk ~ ")\\b', ' # ', 'g')" %}
    {%- endfor %}
    select text_key, {{ guarded.expression }} as matchable_text
    from distinct_texts

),

text_spans as (

    select
        text_key,
        unnest(list_concat(
            {%- for chunk in phrase_chunks %}
            regexp_extract_all(matchable_text, '{{ negation_prefix }}?\b(?:{{ chunk }})\b'){{ ',' if not loop.last }}
            {%- endfor %}
        )) as matched_span
    from guarded_texts

),

distinct_spans as (

    select
        matched_span,
        regexp_extract(matched_span, '^{{ negation_prefix }}?(.*)$', 1) as stripped_span
    from (select distinct matched_span from text_spans)

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

span_rules as (

    -- One row per distinct span and rule it supports (negated matches of negatable rules dropped).
    select distinct
        resolved_spans.matched_span,
        resolved_spans.matched_text,
        resolved_spans.is_negated,
        rules.rule_id
    from resolved_spans
    inner join candidate_phrases on candidate_phrases.candidate_text = resolved_spans.matched_text
    inner join rules on rules.rule_id = candidate_phrases.rule_id
    where not (rules.negatable = 1 and resolved_spans.is_negated)

),

matched_phrases as (

    -- What a rule's matched text says about it does not depend on the text it was found in; the tie break
    -- (a hash of rule and matched text) stands for the pair below, so texts are grouped on numbers only.
    select
        rule_id,
        candidate_text as matched_text,
        min(phrase) as matched_phrase,
        min(language) as language,
        {{ evidence_tie_break('rule_id', 'candidate_text') }} as tie_break
    from candidate_phrases
    group by rule_id, candidate_text

),

span_matches as (

    select span_rules.matched_span, span_rules.is_negated, matched_phrases.tie_break
    from span_rules
    inner join matched_phrases
        on matched_phrases.rule_id = span_rules.rule_id
        and matched_phrases.matched_text = span_rules.matched_text

),

text_evidence as (

    select
        text_spans.text_key,
        span_matches.tie_break,
        bool_and(span_matches.is_negated) as is_negated
    from text_spans
    inner join span_matches on span_matches.matched_span = text_spans.matched_span
    group by text_spans.text_key, span_matches.tie_break

),

final as (

    select
        text_evidence.text_key,
        matched_phrases.rule_id,
        matched_phrases.matched_text,
        matched_phrases.matched_phrase,
        matched_phrases.language,
        text_evidence.is_negated,
        text_evidence.tie_break
    from text_evidence
    inner join matched_phrases on matched_phrases.tie_break = text_evidence.tie_break

)

select * from final
