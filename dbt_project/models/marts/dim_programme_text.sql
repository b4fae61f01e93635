-- Every text the criteria read, as published, one row per programme and field: where an analyst reads the
-- words a text tag's matched_text was found in (fct_programme_evidence.source_field names the field; the
-- matched text is normalised: lower case, accents stripped). Sector narratives are all of a programme's
-- sector descriptions, sorted and joined with " | ".

{%- set field_enum = enum_of(extra=evidence_fields()) %}

with

texts as (

    select programme_text_id, programme_id, source_field, original_text from {{ ref('int_programme_texts') }}

),

final as (

    select
        programme_text_id,
        programme_id,
        cast(source_field as {{ field_enum }}) as source_field,
        original_text as published_text
    from texts

)

select * from final
