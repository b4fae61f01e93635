{#- Whether int_text_spans may keep the spans its previous build found: the table exists, already records
    each row's scan_version (a table built before scan versions existed is scanned afresh), and this is not a
    --full-refresh run. Called directly by the model, so a unit test can override it. -#}
{% macro previous_text_scans_usable() -%}
    {%- if not execute or should_full_refresh() -%}{{ return(false) }}{%- endif -%}
    {%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if previous is none or previous.type != 'table' -%}{{ return(false) }}{%- endif -%}
    {%- set column_names = adapter.get_columns_in_relation(previous) | map(attribute='name') | list -%}
    {{ return('scan_version' in column_names) }}
{%- endmacro %}

{#- The name of a text scan: 'scan-' and the start of the MD5 of the scan's compiled SQL (guards, phrase
    alternations, negation cues, normalisation). -#}
{% macro text_scan_version(scan_sql) -%}
    {{ return('scan-' ~ local_md5(scan_sql)[:12]) }}
{%- endmacro %}
