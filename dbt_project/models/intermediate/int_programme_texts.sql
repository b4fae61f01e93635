{{ config(materialized="view") }}
-- A view: writing every programme's texts (2.3M rows per million programmes) costs more than reading them.

-- Every text a rule may read, one row per programme and field, as published.

with

programmes as (

    select * from {{ ref('stg_ingest__programmes') }}

),

codes as (

    select * from {{ ref('int_programme_codes') }}

),

programme_fields as (

    unpivot (
        select programme_id, title, objectives, description, target_groups, other_description
        from programmes
    )
    on title, objectives, description, target_groups, other_description
    into name source_field value original_text

),

sector_narratives as (

    select
        programme_id,
        'sector_narrative' as source_field,
        -- In a fixed order, so the text (and its key) is the same in every run.
        array_to_string(list_sort(list(distinct narrative)), ' | ') as original_text
    from codes
    where code_type = 'sector' and narrative is not null
    group by programme_id

),

all_texts as (

    select programme_id, source_field, original_text from programme_fields
    union all
    select programme_id, source_field, original_text from sector_narratives

)

select
    programme_id || '|' || source_field as programme_text_id,
    programme_id,
    source_field,
    original_text,
    -- Publishers repeat titles and boilerplate: criteria are matched once per distinct text.
    md5_number(original_text) as text_key
from all_texts
where original_text is not null
