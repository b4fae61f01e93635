{{ config(materialized="view") }}
-- A view: dim_programme copies it whole and the assessment reads two columns; writing it first cost more.

-- One row per programme: the latest version, with its agency resolved and its main country.

with

programmes as (

    select * from {{ ref('stg_ingest__programmes') }}

),

codes as (

    select * from {{ ref('int_programme_codes') }}

),

agencies as (

    select * from {{ ref('ref_agencies') }}

),

countries as (

    select * from {{ ref('ref_countries') }}

),

ordered_countries as (

    select
        codes.programme_id,
        -- Largest share first, unknown shares last, equal shares in code order: the main country is the
        -- same in every run. (list_sort of a plain list is far cheaper than an ordered aggregate.)
        list_transform(
            list_sort(list({
                'share_unknown': codes.percentage is null,
                'negative_share': -coalesce(codes.percentage, 0),
                'code': codes.code
            })),
            country -> country.code
        ) as ordered_codes
    from codes
    where codes.code_type = 'recipient_country'
    group by codes.programme_id

),

main_country as (

    select programme_id, array_to_string(ordered_codes, ',') as country_codes, ordered_codes[1] as country_code
    from ordered_countries

),

parents as (

    -- The parent the publisher declares (IATI related-activity type 1), e.g. a UNDP output's project.
    select programme_id, min(code) as parent_programme_id
    from codes
    where codes.code_type = 'related_activity' and codes.vocabulary = '1'
    group by programme_id

),

children as (

    select parent_programme_id as programme_id, count(*) as child_programme_count
    from parents
    group by parent_programme_id

),

joined as (

    select
        programmes.programme_id,
        coalesce(agencies.agency_code, lower(programmes.agency_ref)) as agency_code,
        coalesce(agencies.agency_name, programmes.reporting_org_name, programmes.agency_ref) as agency_name,
        programmes.agency_ref,
        programmes.title,
        programmes.description,
        programmes.objectives,
        programmes.target_groups,
        programmes.other_description,
        programmes.languages,
        programmes.activity_status,
        main_country.country_code,
        countries.country_name,
        main_country.country_codes,
        parents.parent_programme_id,
        coalesce(children.child_programme_count, 0) as child_programme_count,
        programmes.start_date,
        programmes.end_date,
        coalesce(year(programmes.start_date), year(programmes.end_date)) as start_year,
        programmes.budget_value,
        programmes.budget_currency,
        programmes.is_humanitarian_by_publisher,
        programmes.extract_id,
        programmes.source_file,
        programmes.content_hash,
        programmes.source_format,
        programmes.record_number,
        programmes.loaded_at
    from programmes
    -- IATI organisation identifiers are case-insensitive: a publisher writing xm-dac-41114 is still UNDP.
    left join agencies on upper(agencies.agency_ref) = upper(programmes.agency_ref)
    left join main_country on main_country.programme_id = programmes.programme_id
    left join countries on countries.country_code = main_country.country_code
    left join parents on parents.programme_id = programmes.programme_id
    left join children on children.programme_id = programmes.programme_id

)

select * from joined
