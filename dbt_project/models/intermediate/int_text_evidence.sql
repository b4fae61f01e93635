-- Text evidence: every criteria phrase found in a programme's texts, one row per match.
-- One pass of a single RE2 alternation over each text finds candidate spans (set-based, no
-- programme x rule cross join); distinct spans are then mapped to the phrases they fully match.

{%- set cues = phrase_alternation(ref('criteria_negation_cues'), 'cue') %}
{%- set phrases = phrase_alternation(ref('criteria_text_phrases'), 'phrase') %}
{%- set negation_prefix = '(?:(?:' ~ cues ~ ') (?:\w+ ){0,2})' %}

with

texts as (

    select * from {{ ref('int_programme_texts') }}

),

phrases as (

    select
        rule_id,
        language,
        phrase,
        {{ normalise_text('phrase') }} as phrase_pattern,
        -- The literal start of the phrase (up to its first regex operator): a cheap join key.
        regexp_extract({{ normalise_text('phrase') }}, '^[^\\()\[\]?*+|{{ '{' }}.]*') as literal_prefix
    from {{ ref('criteria_text_phrases') }}

),

rules as (

    select * from {{ ref('criteria_text_rules') }}

),

spans as (

    select
        programme_id,
        source_field,
        unnest(regexp_extract_all(
            normalised_text, '{{ negation_prefix }}?\b(?:{{ phrases }})\b'
        )) as matched_span
    from texts

),

split_spans as (

    select
        programme_id,
        source_field,
        matched_span,
        regexp_extract(matched_span, '^{{ negation_prefix }}?(.*)$', 1) as matched_text
    from spans

),

distinct_texts as (

    select distinct matched_text from split_spans

),

text_phrases as (

    select
        distinct_texts.matched_text,
        phrases.rule_id,
        phrases.language,
        phrases.phrase
    from distinct_texts
    inner join phrases on starts_with(distinct_texts.matched_text, phrases.literal_prefix)
    where regexp_full_match(distinct_texts.matched_text, phrases.phrase_pattern)

),

evidence as (

    select
        split_spans.programme_id,
        rules.rule_id,
        'text' as rule_kind,
        split_spans.source_field,
        split_spans.matched_text,
        text_phrases.phrase as matched_phrase,
        text_phrases.language,
        split_spans.matched_span <> split_spans.matched_text as is_negated,
        case
            when split_spans.source_field in ('title', 'objectives') then rules.marker_level_title
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
    from split_spans
    inner join text_phrases on text_phrases.matched_text = split_spans.matched_text
    inner join rules on rules.rule_id = text_phrases.rule_id
    where rules.is_guard = 0
        and not (rules.negatable = 1 and split_spans.matched_span <> split_spans.matched_text)

),

one_per_rule_field_text as (

    select * from evidence
    qualify row_number() over (
        partition by programme_id, rule_id, source_field, matched_text order by language, matched_phrase
    ) = 1

)

select * from one_per_rule_field_text
