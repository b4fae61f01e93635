-- Programme x treaty article protecting a right the programme serves (criteria_right_treaty_articles); a treaty
-- that protects a group (criteria_treaty_protected_groups: CEDAW, CRC, CRPD, ICMW, ...) only when the programme
-- names that group. A link says which obligations the programme's work relates to, not that it implements them.
-- Key: programme_id, right_code, treaty_code, article. The article catalogue's text columns are written as
-- ENUMs (enum_of): this is the largest mart (tens of rows per programme), and they read as text.

{%- set articles_relation = ref('criteria_right_treaty_articles') %}
{%- set treaties_relation = ref('criteria_treaties') %}
{#- criteria_treaties holds every treaty code (the article links are tested against it). -#}
{%- set treaty_enum = column_enum(treaties_relation, 'treaty_code') %}
{%- set treaty_name_enum = column_enum(treaties_relation, 'treaty_name') %}
{%- set article_enum = column_enum(articles_relation, 'article') %}
{%- set subject_enum = column_enum(articles_relation, 'article_subject') %}

with

rights as (

    select * from {{ ref('bridge_programme_right') }}

),

articles as (

    select
        right_code,
        cast(treaty_code as {{ treaty_enum }}) as treaty_code,
        cast(article as {{ article_enum }}) as article,
        cast(article_subject as {{ subject_enum }}) as article_subject
    from {{ articles_relation }}

),

protected_groups as (

    select cast(treaty_code as {{ treaty_enum }}) as treaty_code, group_code
    from {{ ref('criteria_treaty_protected_groups') }}

),

group_treaty_codes as (

    select distinct treaty_code from protected_groups

),

group_treaties as (

    -- The group treaties each programme may be linked to: those protecting a group it names.
    select distinct programme_groups.programme_id, protected_groups.treaty_code
    from {{ ref('bridge_programme_group') }} as programme_groups
    inner join protected_groups on protected_groups.group_code = cast(programme_groups.group_code as varchar)

),

treaties as (

    select cast(treaty_code as {{ treaty_enum }}) as treaty_code, cast(treaty_name as {{ treaty_name_enum }}) as treaty_name
    from {{ treaties_relation }}

),

final as (

    select
        rights.programme_id,
        rights.right_code,
        articles.treaty_code,
        treaties.treaty_name,
        articles.article,
        articles.article_subject,
        rights.rule_id,
        rights.matched_text,
        rights.marker_level,
        rights.criteria_version
    from rights
    inner join articles on articles.right_code = rights.right_code
    left join treaties on treaties.treaty_code = articles.treaty_code
    left join group_treaty_codes on group_treaty_codes.treaty_code = articles.treaty_code
    left join group_treaties
        on group_treaties.programme_id = rights.programme_id
        and group_treaties.treaty_code = articles.treaty_code
    -- A treaty that protects a group (CEDAW, CRC, CRPD, ICMW, ...) reaches only programmes that name that group.
    where group_treaty_codes.treaty_code is null or group_treaties.programme_id is not null

)

select * from final
