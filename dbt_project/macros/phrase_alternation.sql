{#- Build, at run time, RE2 alternations of the criteria phrases (longest first), split into chunks: RE2 runs a
    large alternation as a DFA only while it fits RE2's memory budget, and falls back to a far slower engine beyond
    it. How many phrases fit depends on the phrases and on the text:
    - Plain phrases (words and bounded choices of words) are dealt into chunks of `chunk_size`. Measured on text
      resampled from the real files: 344 per chunk stay fast, 450 take 70 times as long.
    - Open-ended phrases (a word gap such as `(?:\w+ ){0,4}`, a word start `\w+`, or a `*`, `+` or `{` repeat)
      are dealt into chunks of `open_chunk_size`. Each keeps many partial matches alive at once: on text resampled
      from the real files, open-ended phrases spread over the plain chunks made the passes 2.6 times slower than
      in chunks of their own of at most 50 (measured with 146 of today's 154, in 3 chunks; 75 per chunk is already
      3 times slower than 50).
    `guards` selects the phrases of guard rules (false friends removed before matching) or all others.
    A phrase's chunk is fixed by the MD5 of the phrase, not by its place in the list: within a chunk the
    leftmost, longest-listed phrase consumes an overlapping one, so adding a phrase must not move the
    others between chunks (it changed unrelated tags when chunks were dealt out in list order).
    Criteria stay data: the SQL only reads the seeds. -#}
{% macro phrase_alternations(phrases_relation, rules_relation, guards=false, chunk_size=320, open_chunk_size=50) -%}
    {%- if not execute -%}{{ return(['x']) }}{%- endif -%}
    {%- set query -%}
        with distinct_phrases as (
            select distinct {{ normalise_text('phrases.phrase') }} as phrase
            from {{ compile_time_relation(phrases_relation) }} as phrases
            inner join {{ compile_time_relation(rules_relation) }} as rules on rules.rule_id = phrases.rule_id
            where rules.is_guard = {{ 1 if guards else 0 }}
        ),
        kinds as (
            select phrase, regexp_matches(phrase, '\\[wsS]|[*+{]') as is_open_ended from distinct_phrases
        )
        select
            -- Open-ended phrases' chunks are numbered after the plain ones. The divisor is cast to the hash's own
            -- type: with any other type DuckDB takes the modulo in DOUBLE, which loses the hash's low bits (with 8
            -- chunks every phrase landed in chunk 0).
            case when is_open_ended then 1000 else 0 end + (
                md5_number(phrase) % ceil(
                    count(*) over (partition by is_open_ended)
                    / case when is_open_ended then {{ open_chunk_size }} else {{ chunk_size }} end
                )::uhugeint
            )::integer as chunk_number,
            phrase
        from kinds
        order by length(phrase) desc, phrase
    {%- endset -%}
    {%- set numbered = numbered_alternations(query) -%}
    {%- if not numbered -%}{{ return(['(?!)x']) }}{%- endif -%}
    {{ return(numbered | map(attribute=1) | list) }}
{%- endmacro %}

{#- Runs `query`, whose rows are (number, phrase) in the order phrases should be tried, and joins the phrases of
    each number into one RE2 alternation (quotes doubled for a SQL literal): [[number, alternation], ...] by
    number. What phrase_alternations and phrase_groups deal out. -#}
{% macro numbered_alternations(query) -%}
    {%- set phrases_by_number = {} -%}
    {%- for row in run_query(query).rows -%}
        {%- do phrases_by_number.setdefault(row[0], []).append(row[1]) -%}
    {%- endfor -%}
    {%- set alternations = [] -%}
    {%- for number in phrases_by_number | sort -%}
        {%- do alternations.append([number, phrases_by_number[number] | join('|') | replace("'", "''")]) -%}
    {%- endfor -%}
    {{ return(alternations) }}
{%- endmacro %}

{#- One alternation of the values of a small seed column (e.g. negation cues). -#}
{% macro value_alternation(relation, column) -%}
    {%- if not execute -%}{{ return('x') }}{%- endif -%}
    {%- set query -%}
        select distinct {{ normalise_text(column) }} as value from {{ compile_time_relation(relation) }} order by length(value) desc, value
    {%- endset -%}
    {{ return(run_query(query).columns[0].values() | join('|') | replace("'", "''")) }}
{%- endmacro %}

{#- A negation cue just before a phrase ("no", "sans", "sin" ...: the criteria_negation_cues seed), as an RE2
    group; spans keep it so their negation is read once per span. Up to the seventh session up to two words could
    stand between cue and phrase. On the real files those matches were needs statements the rubric codes as seen
    ("children who did not attend school", "areas that are without GBV and protection services", "sans parler du
    mariage d'enfants"), and the gap made every pass of the scan slower (a third, for open-ended phrases). The cue
    starts at a word boundary: without it "Filipino migrants" read as "no migrants" (until the eighth session). -#}
{% macro negation_prefix() -%}
    {{ return('(?:\\b(?:' ~ value_alternation(ref('criteria_negation_cues'), 'cue') ~ ') )') }}
{%- endmacro %}

{#- Every criteria phrase (guards included), normalised, dealt by the MD5 of the phrase into `group_count` small
    groups, each as one RE2 alternation: a text that one group's alternation matches in full can only be matched
    in full by that group's phrases. Lets int_text_span_matches try each phrase's own regex (compiled per row)
    only against the texts its group matches, instead of against every text that shares its literal start
    (425 phrases start with a group and have none). Returns [[group number, alternation], ...]; the model
    computes each phrase's group with the same expression. -#}
{% macro phrase_groups(phrases_relation, group_count) -%}
    {%- if not execute -%}{{ return([[0, 'x']]) }}{%- endif -%}
    {%- set query -%}
        select distinct
            (md5_number(phrase) % {{ group_count }}::uhugeint)::integer as group_number,
            phrase
        from (select {{ normalise_text('phrase') }} as phrase from {{ compile_time_relation(phrases_relation) }})
        order by group_number, length(phrase) desc, phrase
    {%- endset -%}
    {{ return(numbered_alternations(query)) }}
{%- endmacro %}
