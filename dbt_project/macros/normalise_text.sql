{#- The one text normalisation shared by programme texts and criteria phrases, so both sides compare alike:
    lower case, accents stripped (RE2's \b only knows ASCII word characters), typographic apostrophes made
    plain, whitespace collapsed. Stripping accents is the costly step, so it runs only where it can change
    something:
    - pure-ASCII text (byte length = character length) is only lower-cased;
    - text whose other characters are all common typography that strip_accents leaves alone (curly quotes and
      apostrophes, dashes, bullets, ellipsis, guillemets, no-break space: `typography_characters`) only has its
      apostrophes made plain. Real English text is mostly of this kind: in the shared sample, 61 % of the text
      bytes are in non-ASCII texts, but only 16 % in texts with a character to strip;
    - any other text goes through strip_accents.
    The result is the same in all three cases (tests/dbt_project/test_normalise_text.py compares it with strip_accents
    on every character the shortcut lets through). Only runs of whitespace are rewritten: the same result at half
    the cost. `trim=false` keeps a single leading or trailing space: for text that is only scanned between word
    boundaries this matches the same spans and saves a copy of every text (~1.5 s per GB of text). -#}
{% macro normalise_text(expression, trim=true) -%}
    {{ 'trim(' if trim }}regexp_replace(
        case
            when strlen({{ expression }}) = length({{ expression }}) then lower({{ expression }})
            when not regexp_matches({{ expression }}, '[^\x00-\x7f{{ typography_characters() }}]')
                then replace(replace(lower({{ expression }}), chr(8217), ''''), chr(8216), '''')
            else replace(replace(strip_accents(lower({{ expression }})), chr(8217), ''''), chr(8216), '''')
        end,
        '[\t\n\f\r]\s*| \s+', ' ', 'g'
    ){{ ')' if trim }}
{%- endmacro %}

{#- Non-ASCII characters common in programme texts that neither lower() nor strip_accents changes and that never
    combine with a neighbour, as the inside of an RE2 character class: curly quotes and apostrophes, dashes,
    bullets, ellipsis, guillemets, degree, currency signs, inverted question and exclamation marks, no-break
    space and the left-to-right and right-to-left marks. -#}
{% macro typography_characters() -%}
    \x{2018}\x{2019}\x{201c}\x{201d}\x{2013}\x{2014}\x{2015}\x{2010}\x{2022}\x{00b7}\x{2026}\x{00ab}\x{00bb}\x{00b0}\x{20ac}\x{00a3}\x{00a5}\x{00bf}\x{00a1}\x{00a0}\x{200e}\x{200f}
{%- endmacro %}
