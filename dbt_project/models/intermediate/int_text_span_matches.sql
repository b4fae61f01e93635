-- What each distinct matched span means: one row per span and rule it supports. A few thousand rows however
-- many programmes there are, so the regex work on phrases (full match, negation) runs once per span.

{%- set phrase_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules')) %}
{%- set phrase_group_count = 150 %}
{%- set phrase_group_alternations = phrase_groups(ref('criteria_text_phrases'), phrase_group_count) %}

with

spans as materialized (

    -- Materialized: several CTEs below read the distinct spans, and each would otherwise rescan every span found.
    select distinct matched_span from {{ ref('int_text_spans') }} where matched_span is not null

),

phrases as (

    select
        rule_id,
        language,
        phrase,
        normalised_phrase,
        -- The phrase's group, as phrase_groups deals them.
        (md5_number(normalised_phrase) % {{ phrase_group_count }}::uhugeint)::integer as phrase_group_number
    from (select *, {{ normalise_text('phrase') }} as normalised_phrase from {{ ref('criteria_text_phrases') }})

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

inner_texts as (

    -- Every shorter run of whole words inside a span (without its negation cue). A phrase found inside a
    -- longer match counts too ("jeunes" in "femmes et jeunes"), whether or not the alternation that found the
    -- longer match also held the shorter phrase: the tags do not depend on how phrases are chunked.
    -- Only runs that are a phrase are kept (each alternation compiled once), so the phrase-by-phrase regex
    -- below, compiled per row, meets few of them.
    select distinct matched_span, inner_text
    from (
        select distinct_spans.matched_span, array_to_string(words[first_word:last_word], ' ') as inner_text
        from (select matched_span, string_split(stripped_span, ' ') as words from distinct_spans) as distinct_spans,
            range(1, len(words) + 1) as firsts(first_word),
            range(1, len(words) + 1) as lasts(last_word)
        where last_word >= first_word and last_word - first_word + 1 < len(words)
    )
    where
        {%- for chunk in phrase_chunks %}
        regexp_full_match(inner_text, '(?:{{ chunk }})'){{ ' or' if not loop.last }}
        {%- endfor %}

),

candidate_texts as (

    -- Both readings of each span: as a whole (a phrase may itself start with a negation word, as in
    -- "no dejar a nadie atras"), and without a leading negation cue; and the runs of words inside it.
    select matched_span as candidate_text from distinct_spans
    union
    select stripped_span from distinct_spans
    union
    select inner_text from inner_texts

),

candidate_groups as (

    -- The phrase groups whose alternation (compiled once) matches each candidate in full: only their phrases
    -- can, so only they are tried one by one below.
    select
        candidate_text,
        unnest(list_filter([
            {%- for group_number, alternation in phrase_group_alternations %}
            if(regexp_full_match(candidate_text, '(?:{{ alternation }})'), {{ group_number }}, null){{ ',' if not loop.last }}
            {%- endfor %}
        ], group_number -> group_number is not null)) as phrase_group_number
    from candidate_texts

),

candidate_phrases as (

    select
        candidate_groups.candidate_text,
        phrase_keys.rule_id,
        phrase_keys.language,
        phrase_keys.phrase
    from candidate_groups
    inner join phrase_keys
        on phrase_keys.phrase_group_number = candidate_groups.phrase_group_number
        and starts_with(candidate_groups.candidate_text, phrase_keys.literal_prefix)
    where regexp_full_match(candidate_groups.candidate_text, phrase_keys.normalised_phrase)

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

whole_span_rules as (

    select
        resolved_spans.matched_span,
        matched_phrases.rule_id,
        resolved_spans.matched_text,
        matched_phrases.matched_phrase,
        matched_phrases.language,
        resolved_spans.is_negated
    from resolved_spans
    inner join matched_phrases on matched_phrases.matched_text = resolved_spans.matched_text

),

inner_span_rules as (

    -- Rules a span supports only through a phrase inside it (for each rule the longest such phrase, then the
    -- first in order, so every run picks the same); the span's negation cue, if any, applies to them too.
    -- Title-only rules (no body level) count only as a whole span: a bare "women" names what a title is about,
    -- but inside "pregnant and lactating women" it is part of naming who is served.
    select
        resolved_spans.matched_span,
        matched_phrases.rule_id,
        inner_texts.inner_text as matched_text,
        matched_phrases.matched_phrase,
        matched_phrases.language,
        resolved_spans.is_negated
    from resolved_spans
    inner join inner_texts on inner_texts.matched_span = resolved_spans.matched_span
    inner join matched_phrases on matched_phrases.matched_text = inner_texts.inner_text
    inner join rules as inner_rules
        on inner_rules.rule_id = matched_phrases.rule_id and inner_rules.marker_level_body is not null
    anti join whole_span_rules
        on whole_span_rules.matched_span = resolved_spans.matched_span
        and whole_span_rules.rule_id = matched_phrases.rule_id
    qualify row_number() over (
        partition by resolved_spans.matched_span, matched_phrases.rule_id
        order by length(inner_texts.inner_text) desc, inner_texts.inner_text
    ) = 1

),

span_rules as (

    -- Negated matches of negatable rules are dropped.
    select
        supported.matched_span,
        supported.rule_id,
        supported.matched_text,
        supported.matched_phrase,
        supported.language,
        supported.is_negated,
        {{ evidence_tie_break('supported.rule_id', 'supported.matched_text') }} as tie_break
    from (select * from whole_span_rules union all select * from inner_span_rules) as supported
    inner join rules on rules.rule_id = supported.rule_id
    where not (rules.negatable = 1 and supported.is_negated)

)

select * from span_rules
