-- A programme has a humanitarian tag exactly when dim_programme calls it humanitarian: evidence that was
-- outweighed (a general COVID-19 response framed as recovery) must not surface as a tag.

with

programmes as (

    select programme_id, is_humanitarian from {{ ref('dim_programme') }}

),

humanitarian_tags as (

    select distinct programme_id
    from {{ ref('fct_programme_tag') }}
    where criterion_type = 'humanitarian'

)

select programmes.programme_id, programmes.is_humanitarian, humanitarian_tags.programme_id is not null as has_tag
from programmes
left join humanitarian_tags on humanitarian_tags.programme_id = programmes.programme_id
where programmes.is_humanitarian != (humanitarian_tags.programme_id is not null)
