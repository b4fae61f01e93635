{#- trim(), copying the string only when it starts or ends with a space (DuckDB's trim removes spaces only).
    Long texts are rarely padded, and copying every description to trim nothing cost 3.6 s of the 10 s staging
    model at a million programmes. -#}
{% macro trim_spaces(expression) -%}
    case
        when starts_with({{ expression }}, ' ') or ends_with({{ expression }}, ' ') then trim({{ expression }})
        else {{ expression }}
    end
{%- endmacro %}
