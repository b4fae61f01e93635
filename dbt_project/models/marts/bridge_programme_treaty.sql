-- Programme x core treaty article, reached through the rights the programme carries
-- (criteria_right_treaty_articles): which treaty obligations the programme helps a State meet.

with

rights as (

    select * from {{ ref('bridge_programme_right') }}

),

articles as (

    select * from {{ ref('criteria_right_treaty_articles') }}

),

treaties as (

    select * from {{ ref('criteria_treaties') }}

),

final as (

    select
        md5(concat_ws('|', rights.programme_id, rights.right_code, articles.treaty_code, articles.article))
            as programme_treaty_article_id,
        rights.programme_id,
        rights.right_code,
        articles.treaty_code,
        treaties.treaty_name,
        cast(articles.article as varchar) as article,
        articles.article_subject,
        rights.rule_id,
        rights.matched_text,
        rights.criteria_version
    from rights
    inner join articles on articles.right_code = rights.right_code
    left join treaties on treaties.treaty_code = articles.treaty_code

)

select * from final
