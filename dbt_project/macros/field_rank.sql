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

{% macro strength_rank(marker_level, source_field, rule_kind, rule_id, matched_text) -%}
    {#- Strongest evidence first, as one BIGINT: highest marker level, then the most telling field, then text
        before codes (upper bits); ties are broken by 52 bits of a hash of rule, field and matched text, so the
        choice never varies from run to run and is unique within a programme. -#}
    ((3 - {{ marker_level }}) * 100 + {{ field_rank(source_field) }} * 10
        + ({{ rule_kind }} = 'code')::integer)::bigint * 4503599627370496
        + ('0x' || left(md5(concat_ws('|', {{ rule_id }}, {{ source_field }}, {{ matched_text }})), 13))::bigint
{%- endmacro %}
