-- Every criteria phrase span found in each DISTINCT programme text, one row per occurrence. Publishers
-- repeat titles and boilerplate, so each distinct text is normalised and scanned once: false friends
-- ("human resources", "copyright") are blanked out first, then a few RE2 alternations of all phrases run
-- over it (no programme x rule cross join). A span keeps any negation cue just before it; what a span means
-- is worked out once per distinct span in int_text_span_matches.
--
-- Incremental: a text is scanned once per scan version (the phrases, guards, negation cues and normalisation
-- compiled below). A later build appends the spans of texts it has not scanned yet; a text with no span gets
-- one row with span_number 0 and no span, so it is not scanned again. The pre-hook forgets the rows of texts no
-- longer published (retracted, reworded), and when the scan changes (a phrase added, a guard, a cue) every row
-- of the other version, so that build scans every text again. Rule levels and what a phrase means
-- (int_text_span_matches) are read afresh on every build, so they never need a new scan. `dbt build
-- --full-refresh` (mainstream process --rebuild) scans everything regardless. on_schema_change is 'fail': a
-- future change to this model's columns needs one full refresh (only the scan_version column added by this
-- design is handled by the pre-hook).

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_stale_text_scans() }}"
) }}

{%- set scan = text_scan_expressions() %}
{%- set scan_version = text_scan_version(scan.guarded ~ '|' ~ scan.span_lists | join('|')) %}
{%- set keep_previous = is_incremental() and previous_text_scans_usable() %}

with

texts as (

    select text_key, original_text from {{ ref('int_programme_texts') }}

),

{%- if keep_previous %}

scanned_texts as (

    select distinct text_key from {{ this }} where scan_version = '{{ scan_version }}'

),

{%- endif %}

texts_to_scan as (

    -- Grouped on the key alone: the text is a function of its MD5.
    select texts.text_key, any_value(texts.original_text) as original_text
    from texts
    {%- if keep_previous %}
    anti join scanned_texts on scanned_texts.text_key = texts.text_key
    {%- endif %}
    group by texts.text_key

),

guarded_texts as (

    select text_key, {{ scan.guarded }} as matchable_text
    from texts_to_scan

),

found_spans as (

    select
        text_key,
        list_concat(
            {{ scan.span_lists | join(',\n            ') }}
        ) as spans
    from guarded_texts

),

text_spans as (

    -- A text in which nothing was found keeps one row without a span (span_number 0).
    select
        text_key,
        generate_subscripts(spans_or_nothing, 1) as subscript,
        unnest(spans_or_nothing) as matched_span
    from (
        select text_key, case when len(spans) = 0 then [null::varchar] else spans end as spans_or_nothing
        from found_spans
    )

)

select
    text_key,
    case when matched_span is null then 0 else subscript end as span_number,
    matched_span,
    '{{ scan_version }}' as scan_version
from text_spans
