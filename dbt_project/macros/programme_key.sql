{#- The integer that stands for a programme inside the tagging chain: the big intermediate tables group and
    join on it instead of the programme_id string. A 64-bit hash, so it needs no lookup table; two ids
    hashing alike would fail the unique test on int_programme_assessment.programme_key, not mislabel. -#}
{% macro programme_key(programme_id) -%}
    hash({{ programme_id }})
{%- endmacro %}
