{#- Evidence is ordered strongest first by one BIGINT, strength_rank (smaller is stronger):
        ((3 - marker level) * 100 + field rank * 10 + is code) * 2^52 + tie break
    The macros below build it and read it back; the field order and the 2^52 step are defined once here. -#}

{% macro evidence_fields() -%}
    {#- Text fields from most to least telling; their position is the field rank (codes rank after them). -#}
    {{ return(['title', 'objectives', 'description', 'target_groups', 'other_description', 'sector_narrative']) }}
{%- endmacro %}

{% macro rank_step() -%}
    {{ return(4503599627370496) }}
{%- endmacro %}

{% macro field_rank(source_field) -%}
    {#- How telling a field is, 1 (title) to 7 (codes): orders evidence for tags and justifications. -#}
    case {{ source_field }}
        {%- for field in evidence_fields() %}
        when '{{ field }}' then {{ loop.index }}
        {%- endfor %}
        else {{ evidence_fields() | length + 1 }}
    end
{%- endmacro %}

{% macro evidence_tie_break(rule_id, matched_text) -%}
    {#- 52 bits of a hash of rule and matched text: breaks ties between equally strong evidence the same way
        in every run. -#}
    ('0x' || left(md5(concat_ws('|', {{ rule_id }}, {{ matched_text }})), 13))::bigint
{%- endmacro %}

{% macro strength_rank(marker_level, source_field, rule_kind, tie_break) -%}
    {#- Unique within a programme, as a programme has one row per rule, field and matched text. -#}
    ((3 - {{ marker_level }}) * 100 + {{ field_rank(source_field) }} * 10
        + ({{ rule_kind }} = 'code')::integer)::bigint * {{ rank_step() }} + {{ tie_break }}
{%- endmacro %}

{#- Reading a strength_rank back: its marker level, whether it is code evidence, its tie break (which, with
    is_code, finds the rule and matched text in int_evidence_matches) and, for text, the field. -#}
{% macro rank_marker_level(rank) -%}
    cast(3 - ({{ rank }} // {{ rank_step() }}) // 100 as integer)
{%- endmacro %}

{% macro rank_is_code(rank) -%}
    (({{ rank }} // {{ rank_step() }}) % 10 = 1)
{%- endmacro %}

{% macro rank_tie_break(rank) -%}
    ({{ rank }} % {{ rank_step() }})
{%- endmacro %}

{% macro rank_text_field(rank, as_type='varchar') -%}
    case (({{ rank }} // {{ rank_step() }}) % 100) // 10
        {%- for field in evidence_fields() %}
        when {{ loop.index }} then cast('{{ field }}' as {{ as_type }})
        {%- endfor %}
    end
{%- endmacro %}

{% macro rank_field_is(rank, field) -%}
    {#- Whether a strength_rank's evidence was found in the given text field (an integer test, no lookup). -#}
    ((({{ rank }} // {{ rank_step() }}) % 100) // 10 = {{ evidence_fields().index(field) + 1 }})
{%- endmacro %}

{% macro counts_where_found(counts_in_objectives, rank) -%}
    {#- Whether a match counts where its evidence (strength_rank) was found: everywhere, or only outside the
        objectives field for a pillar some statements name as the setting in a narrative (a peace agreement signed:
        criteria_text_rules.pillar_from_objectives = 0). int_programme_assessment decides the pillars with it and
        fct_programme_tag picks the evidence a pillar tag cites with it, so both read the rule the same way. -#}
    ({{ counts_in_objectives }} or not {{ rank_field_is(rank, 'objectives') }})
{%- endmacro %}

{% macro rank_finds_match(matches, rank) -%}
    {#- The join condition that finds a strength_rank's match (rule and matched text) in int_evidence_matches. -#}
    {{ matches }}.is_code = {{ rank_is_code(rank) }} and {{ matches }}.tie_break = {{ rank_tie_break(rank) }}
{%- endmacro %}
