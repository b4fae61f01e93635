{#- The USD budget of the programmes in a group, for the coverage marts: budgets in other currencies are not
    converted (no exchange-rate table). With `where`, the USD budget of those meeting it: 0, not null, when the
    group has USD budgets but none of them meets it; null only when the group has no USD budget at all.
    `alias` qualifies the budget columns (e.g. 'programmes'). -#}
{% macro usd_budget_sum(where=none, alias=none) -%}
    {%- set column = (alias ~ '.' if alias else '') -%}
    sum({% if where %}case when {{ where }} then {{ column }}budget_value else 0 end{% else %}{{ column }}budget_value{% endif %})
        filter (where {{ column }}budget_currency = 'USD' and {{ column }}budget_value is not null)
{%- endmacro %}
