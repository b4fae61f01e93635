{#- The relation a compile-time query (run_query) should read for a ref. In a dbt unit test, ref() names the
    fixture's CTE, which exists only inside the test query (and the graph is not available there); the
    criteria a model compiles into its SQL (phrase alternations, negation cues) are then read from the built
    table of that name, so the text-matching unit tests exercise the real criteria. -#}
{% macro compile_time_relation(relation) -%}
    {%- set name = relation | string -%}
    {%- set fixture_prefix = '__dbt__cte__' -%}
    {%- if execute and name.startswith(fixture_prefix) -%}
        {%- set table_name = name[fixture_prefix | length:] -%}
        {%- set found = run_query(
            "select table_schema from information_schema.tables"
            ~ " where table_catalog = current_database() and table_name = '" ~ table_name ~ "'"
        ).columns[0].values() -%}
        {%- if found | length != 1 -%}
            {{ exceptions.raise_compiler_error(
                'a unit test needs the built table ' ~ table_name ~ ' (run dbt seed first); found ' ~ (found | length)) }}
        {%- endif -%}
        {{ return(api.Relation.create(database=target.database, schema=found[0], identifier=table_name)) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
