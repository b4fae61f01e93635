{#- The one text normalisation shared by programme texts and criteria phrases, so both sides compare alike:
    lower case, accents stripped (RE2's \b only knows ASCII word characters), typographic apostrophes made
    plain, whitespace collapsed. -#}
{% macro normalise_text(expression) -%}
    trim(regexp_replace(
        replace(replace(strip_accents(lower({{ expression }})), chr(8217), ''''), chr(8216), ''''),
        '\s+', ' ', 'g'
    ))
{%- endmacro %}
