{% macro field_rank(source_field) -%}
    {#- How telling a field is, 1 (title) to 7 (codes): orders evidence for tags and justifications. -#}
    case {{ source_field }}
        when 'title' then 1
        when 'objectives' then 2
        when 'description' then 3
        when 'target_groups' then 4
        when 'other_description' then 5
        when 'sector_narrative' then 6
        else 7
    end
{%- endmacro %}

{% macro evidence_tie_break(rule_id, matched_text) -%}
    {#- 52 bits of a hash of rule and matched text: breaks ties between equally strong evidence the same way
        in every run. -#}
    ('0x' || left(md5(concat_ws('|', {{ rule_id }}, {{ matched_text }})), 13))::bigint
{%- endmacro %}

{% macro strength_rank(marker_level, source_field, rule_kind, tie_break) -%}
    {#- Strongest evidence first, as one BIGINT (smaller is stronger): highest marker level, then the most
        telling field, then text before codes, then the tie break. Unique within a programme, as a programme
        has one row per rule, field and matched text. -#}
    ((3 - {{ marker_level }}) * 100 + {{ field_rank(source_field) }} * 10
        + ({{ rule_kind }} = 'code')::integer)::bigint * 4503599627370496 + {{ tie_break }}
{%- endmacro %}

{#- Reading a strength_rank back: its marker level, whether it is code evidence, its tie break (which, with
    is_code, finds the rule and matched text in int_evidence_matches) and, for text, the field. -#}
{% macro rank_marker_level(rank) -%}
    cast(3 - ({{ rank }} // 4503599627370496) // 100 as integer)
{%- endmacro %}

{% macro rank_is_code(rank) -%}
    (({{ rank }} // 4503599627370496) % 10 = 1)
{%- endmacro %}

{% macro rank_tie_break(rank) -%}
    ({{ rank }} % 4503599627370496)
{%- endmacro %}

{% macro rank_text_field(rank) -%}
    case (({{ rank }} // 4503599627370496) % 100) // 10
        when 1 then 'title'
        when 2 then 'objectives'
        when 3 then 'description'
        when 4 then 'target_groups'
        when 5 then 'other_description'
        when 6 then 'sector_narrative'
    end
{%- endmacro %}
