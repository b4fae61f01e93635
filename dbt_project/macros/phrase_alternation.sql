{#- Build, at run time, one RE2 alternation from a seed column of phrases (longest first, so a guard such
    as "human resources" wins over a shorter phrase at the same place). Criteria stay data: the SQL only
    reads the seed. -#}
{% macro phrase_alternation(relation, column) -%}
    {%- if not execute -%}{{ return('x') }}{%- endif -%}
    {%- set query -%}
        select distinct {{ normalise_text(column) }} as phrase
        from {{ relation }}
        order by length(phrase) desc, phrase
    {%- endset -%}
    {%- set phrases = run_query(query).columns[0].values() -%}
    {{ return(phrases | join('|') | replace("'", "''")) }}
{%- endmacro %}
