-- Programme x core treaty article, reached through the rights the programme carries
-- (criteria_right_treaty_articles): which treaty obligations the programme helps a State meet.
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

)

select * from final
