-- Text evidence: every criteria phrase found in a programme's texts, one row per match.
-- Each distinct text is scanned once by a few RE2 alternations of all phrases (set-based, no
-- programme x rule cross join); distinct matched spans are then mapped to the phrases they fully match.

{%- set cues = value_alternation(ref('criteria_negation_cues'), 'cue') %}
{%- set guard_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules'), guards=true) %}
{%- set phrase_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules')) %}
{%- set negation_prefix = '(?:(?:' ~ cues ~ ') (?:\w+ ){0,2}?)' %}

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

phrases_with_prefix as (

    -- The literal start of each phrase, up to its first regex operator (minus the character a following
    -- quantifier makes optional, as in "elections?"): a cheap join key before the full regex check.
    select
        *,
        regexp_extract(normalised_phrase, '^[^\\()\[\]?*+|{{ '{' }}.]*') as literal_run
    from phrases

),

phrase_keys as (

    select
        *,
        case
            when substr(normalised_phrase, length(literal_run) + 1, 1) in ('?', '*', '{{ '{' }}')
                then left(literal_run, length(literal_run) - 1)
            else literal_run
        end as literal_prefix
    from phrases_with_prefix

),

rules as (

    select * from {{ ref('criteria_text_rules') }}

),

distinct_texts as (

    -- Publishers repeat texts (generic titles, boilerplate descriptions): scan each distinct text once.
    select distinct normalised_text from texts

),

guarded_texts as (

    -- False friends ("human resources", "rights-of-way", "copyright") are blanked out before matching.
    select
        normalised_text,
        {%- set guarded = namespace(expression='normalised_text') %}
        {%- for chunk in guard_chunks %}
        {%- set guarded.expression = "regexp_replace(" ~ guarded.expression ~ ", '\\b(?:" ~ chunk ~ ")\\b', ' # ', 'g')" %}
        {%- endfor %}
        {{ guarded.expression }} as matchable_text
    from distinct_texts

),

text_spans as (

    select
        normalised_text,
        unnest(list_concat(
            {%- for chunk in phrase_chunks %}
            regexp_extract_all(matchable_text, '{{ negation_prefix }}?\b(?:{{ chunk }})\b'){{ ',' if not loop.last }}
            {%- endfor %}
        )) as matched_span
    from guarded_texts

),

spans as (

    select texts.programme_id, texts.source_field, text_spans.matched_span
    from texts
    inner join text_spans on text_spans.normalised_text = texts.normalised_text

),

split_spans as (

    select
        programme_id,
        source_field,
        matched_span,
        regexp_extract(matched_span, '^{{ negation_prefix }}?(.*)$', 1) as matched_text
    from spans

),

distinct_matches as (

    -- Both readings of each span: as a whole (a phrase may itself start with a negation word, as in
    -- "no dejar a nadie atras"), and without a leading negation cue.
    select matched_span as matched_text from split_spans
    union
    select matched_text from split_spans

),

text_phrases as (

    select
        distinct_matches.matched_text,
        phrase_keys.rule_id,
        phrase_keys.language,
        phrase_keys.phrase
    from distinct_matches
    inner join phrase_keys on starts_with(distinct_matches.matched_text, phrase_keys.literal_prefix)
    where regexp_full_match(distinct_matches.matched_text, phrase_keys.normalised_phrase)

),

resolved_spans as (

    -- A span that is a phrase as a whole is not negated; otherwise it is read without its negation cue.
    select
        split_spans.programme_id,
        split_spans.source_field,
        coalesce(whole.matched_text, split_spans.matched_text) as matched_text,
        whole.matched_text is null and split_spans.matched_span <> split_spans.matched_text as is_negated
    from split_spans
    left join (select distinct matched_text from text_phrases) as whole
        on whole.matched_text = split_spans.matched_span

),

evidence as (

    select
        resolved_spans.programme_id,
        rules.rule_id,
        'text' as rule_kind,
        resolved_spans.source_field,
        resolved_spans.matched_text,
        text_phrases.phrase as matched_phrase,
        text_phrases.language,
        resolved_spans.is_negated,
        -- What the title names is the programme's aim; every other field is body text (some publishers
        -- put their whole description in objectives).
        case
            when resolved_spans.source_field = 'title' then rules.marker_level_title
            else rules.marker_level_body
        end as marker_level,
        rules.pillar_code,
        rules.is_humanitarian = 1 as is_humanitarian,
        rules.right_code,
        rules.group_code,
        rules.principle_code,
        rules.area_code,
        cast(null as varchar) as sdg_target,
        rules.rule_description
    from resolved_spans
    inner join text_phrases on text_phrases.matched_text = resolved_spans.matched_text
    inner join rules on rules.rule_id = text_phrases.rule_id
    where not (rules.negatable = 1 and resolved_spans.is_negated)

),

one_per_rule_field_text as (

    select * from evidence
    qualify row_number() over (
        partition by programme_id, rule_id, source_field, matched_text order by language, matched_phrase
    ) = 1

)

select * from one_per_rule_field_text
