{#- What int_text_spans runs over each text, compiled from the criteria seeds: `guarded`, the SQL expression of the
    normalised text with every guard phrase (false friend) blanked out, from `original_text`; `span_lists`, one
    regexp_extract_all of a phrase alternation per chunk, over `matchable_text`. The pre-hook that forgets scans
    of other versions compiles them too, so both name the scan alike. -#}
{% macro text_scan_expressions() -%}
    {%- set guard_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules'), guards=true) -%}
    {%- set phrase_chunks = phrase_alternations(ref('criteria_text_phrases'), ref('criteria_text_rules')) -%}
    {%- set guarded = namespace(expression=normalise_text('original_text', trim=false)) -%}
    {%- for chunk in guard_chunks -%}
        {%- set guarded.expression = "regexp_replace(" ~ guarded.expression ~ ", '\\b(?:" ~ chunk ~ ")\\b', ' # ', 'g')" -%}
    {%- endfor -%}
    {%- set span_lists = [] -%}
    {%- for chunk in phrase_chunks -%}
        {%- do span_lists.append("regexp_extract_all(matchable_text, '" ~ negation_prefix() ~ "?\\b(?:" ~ chunk ~ ")\\b')") -%}
    {%- endfor -%}
    {{ return({'guarded': guarded.expression, 'span_lists': span_lists}) }}
{%- endmacro %}

{#- The name of a text scan: 'scan-' and the start of the MD5 of the scan's compiled SQL (guards, phrase
    alternations, negation cues, normalisation). -#}
{% macro text_scan_version(scan_sql) -%}
    {{ return('scan-' ~ local_md5(scan_sql)[:12]) }}
{%- endmacro %}

{#- Whether the table an earlier build of int_text_spans left records each row's scan_version (one built before
    scan versions existed is scanned afresh). Called directly by the model, so a unit test can override it. -#}
{% macro previous_text_scans_usable() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if previous is none -%}{{ return(false) }}{%- endif -%}
    {%- set column_names = adapter.get_columns_in_relation(previous) | map(attribute='name') | list -%}
    {{ return('scan_version' in column_names) }}
{%- endmacro %}

{#- int_text_spans' pre-hook on an incremental run: forget the spans of every other scan version (the phrases,
    guards, negation cues or normalisation changed), so that this build scans those texts again, and the spans
    of texts no longer published (a retracted extract, a programme's earlier wording): what they matched must not
    reach the marts, not even as a value of a published ENUM type. A table from before scan versions is replaced
    by an empty one with the scan_version column (the model then scans every text: previous_text_scans_usable was
    false when it compiled). -#}
{% macro forget_stale_text_scans() -%}
    {%- if not execute or not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- if not previous_text_scans_usable() -%}
        {{ return('create or replace table ' ~ this ~ ' as select *, null::varchar as scan_version from ' ~ this ~ ' limit 0') }}
    {%- endif -%}
    {%- set scan = text_scan_expressions() -%}
    {%- set scan_version = text_scan_version(scan.guarded ~ '|' ~ scan.span_lists | join('|')) -%}
    {{ return(
        "delete from " ~ this ~ " as spans where spans.scan_version is distinct from '" ~ scan_version ~ "'"
        ~ " or not exists (select 1 from " ~ ref('int_programme_texts') ~ " as texts where texts.text_key = spans.text_key)"
    ) }}
{%- endmacro %}
