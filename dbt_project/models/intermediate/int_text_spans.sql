-- Every criteria phrase span found in each DISTINCT programme text, one row per occurrence. Publishers
-- repeat titles and boilerplate, so each distinct text is normalised and scanned once: false friends
-- ("human resources", "copyright") are blanked out first, then a few RE2 alternations of all phrases run
-- over it (no programme x rule cross join). A span keeps any negation cue just before it; what a span means
-- is worked out once per distinct span in int_text_span_matches.

{%- set guard_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules'), guards=true) %}
{%- set phrase_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules')) %}

with

texts as (

    select text_key, original_text from {{ ref('int_programme_texts') }}

),

distinct_texts as (

    -- Grouped on the key alone: the text is a function of its MD5.
    select text_key, any_value(original_text) as original_text
    from texts
    group by text_key

),

guarded_texts as (

    {%- set guarded = namespace(expression=normalise_text('original_text', trim=false)) %}
    {%- for chunk in guard_chunks %}
    {%- set guarded.expression = "regexp_replace(" ~ guarded.expression ~ ", '\\b(?:" ~ chunk ~ ")\\b', ' # ', 'g')" %}
    {%- endfor %}
    select text_key, {{ guarded.expression }} as matchable_text
    from distinct_texts

),

found_spans as (

    select
        text_key,
        list_concat(
            {%- for chunk in phrase_chunks %}
            regexp_extract_all(matchable_text, '{{ negation_prefix() }}?\b(?:{{ chunk }})\b'){{ ',' if not loop.last }}
            {%- endfor %}
        ) as spans
    from guarded_texts

),

text_spans as (

    select
        text_key,
        generate_subscripts(spans, 1) as span_number,
        unnest(spans) as matched_span
    from found_spans

)

select * from text_spans
