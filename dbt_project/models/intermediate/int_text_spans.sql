-- Every criteria phrase span found in each DISTINCT programme text, one row per occurrence. Publishers
-- repeat titles and boilerplate, so each distinct text is normalised and scanned once: false friends
-- ("human resources", "copyright") are blanked out first, then a few RE2 alternations of all phrases run
-- over it (no programme x rule cross join). A span keeps any negation cue just before it; what a span means
-- is worked out once per distinct span in int_text_span_matches.
--
-- A text is scanned once for a given scan (the phrases, guards, negation cues and normalisation compiled
-- below, named by scan_version): a later build keeps the spans this table already holds for texts still
-- published and scans only texts it has not seen. A text with no span keeps one row with span_number 0 and
-- no span, so it is not scanned again. Any change to the scan (a phrase added, a guard, a negation cue)
-- changes scan_version and every text is scanned again; `dbt build --full-refresh` (mainstream process
-- --rebuild) scans everything regardless. Rule levels and what a phrase means (int_text_span_matches) are
-- read afresh on every build, so they never need a new scan.

{%- set guard_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules'), guards=true) %}
{%- set phrase_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules')) %}

{%- set guarded = namespace(expression=normalise_text('original_text', trim=false)) %}
{%- for chunk in guard_chunks %}
{%- set guarded.expression = "regexp_replace(" ~ guarded.expression ~ ", '\\b(?:" ~ chunk ~ ")\\b', ' # ', 'g')" %}
{%- endfor %}
{%- set span_lists = [] %}
{%- for chunk in phrase_chunks %}
{%- do span_lists.append("regexp_extract_all(matchable_text, '" ~ negation_prefix() ~ "?\\b(?:" ~ chunk ~ ")\\b')") %}
{%- endfor %}
{%- set scan_version = text_scan_version(guarded.expression ~ '|' ~ span_lists | join('|')) %}
{%- set reuse_previous = previous_text_scans_usable() %}

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

{%- if reuse_previous %}

kept_spans as (

    -- What an earlier build found in texts still published, by the same scan.
    select previous_spans.text_key, previous_spans.span_number, previous_spans.matched_span, previous_spans.scan_version
    from {{ this }} as previous_spans
    semi join distinct_texts on distinct_texts.text_key = previous_spans.text_key
    where previous_spans.scan_version = '{{ scan_version }}'

),

texts_to_scan as (

    select distinct_texts.*
    from distinct_texts
    anti join kept_spans on kept_spans.text_key = distinct_texts.text_key

),

{%- else %}

texts_to_scan as (

    select * from distinct_texts

),

{%- endif %}

guarded_texts as (

    select text_key, {{ guarded.expression }} as matchable_text
    from texts_to_scan

),

found_spans as (

    select
        text_key,
        list_concat(
            {{ span_lists | join(',\n            ') }}
        ) as spans
    from guarded_texts

),

new_spans as (

    select
        text_key,
        generate_subscripts(spans, 1) as span_number,
        unnest(spans) as matched_span,
        '{{ scan_version }}' as scan_version
    from found_spans

    union all

    -- Scanned, nothing found.
    select text_key, 0, null, '{{ scan_version }}'
    from found_spans
    where len(spans) = 0

)

select * from new_spans
{%- if reuse_previous %}

union all

select * from kept_spans
{%- endif %}
