-- The criteria version: a fingerprint of every criteria seed's content. Changing any rule, phrase or
-- catalogue row changes it, and every tag records it.

{%- set criteria_seeds = [
    'criteria_code_rules', 'criteria_text_rules', 'criteria_text_phrases', 'criteria_negation_cues',
    'criteria_rights', 'criteria_right_treaty_articles', 'criteria_treaties', 'criteria_rights_holder_groups',
    'criteria_hrba_principles', 'criteria_duty_bearer_areas', 'criteria_pillars', 'criteria_marker_levels',
    'criteria_publisher_marker_claims',
] %}

with

seed_fingerprints as (

    {%- for seed_name in criteria_seeds %}
    select '{{ seed_name }}' as seed_name, md5(coalesce(string_agg(cast(seed_rows as varchar), '|' order by cast(seed_rows as varchar)), '')) as fingerprint
    from {{ ref(seed_name) }} as seed_rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

version as (

    select
        'crit-' || left(md5(string_agg(seed_name || ':' || fingerprint, ',' order by seed_name)), 12)
            as criteria_version,
        count(*) as seed_count
    from seed_fingerprints

)

select * from version
