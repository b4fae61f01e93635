{#- A DuckDB ENUM type holding the values a query returns (read at run time), for the low-cardinality
    text columns of the big marts: an ENUM is stored and joined as a small integer yet reads, compares and
    filters as text (`where criterion_type = 'right'`), so a 13M-row table of them writes several times
    faster than the same table of VARCHARs. `extra` values are always included. -#}
{% macro enum_of(query=none, extra=[]) -%}
    {%- if not execute -%}{{ return('varchar') }}{%- endif -%}
    {%- set queried = (run_query(query).columns[0].values() | list) if query else [] -%}
    {#- Case-sensitive: Jinja's unique and sort fold case by default, and 'HCOVD20' and 'hcovd20' are two values. -#}
    {%- set values = (extra + queried) | reject('none') | map('string') | unique(case_sensitive=true) | sort(case_sensitive=true) -%}
    {%- if not values -%}{{ return('varchar') }}{%- endif -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return('enum(' ~ (quoted | join(', ')) ~ ')') }}
{%- endmacro %}

{#- enum_of for one column of a relation: the ENUM of the values the column holds. -#}
{% macro column_enum(relation, column, extra=[]) -%}
    {{ return(enum_of('select distinct cast(' ~ column ~ ' as varchar) from ' ~ relation, extra=extra)) }}
{%- endmacro %}
