{{ config(materialized="table") }}
-- A table: six models read the latest version of every programme; deduplicating it once is cheaper than in each.

with

source as (

    select * from {{ source('ingest', 'programmes') }}

),

latest_extract as (

    -- A programme dropped again in a later extract is replaced by its newest version.
    select *
    from source
    qualify row_number() over (
        partition by programme_id order by loaded_at desc, extract_id desc, record_number
    ) = 1

),

renamed as (

    select
        ---------- ids
        trim(programme_id) as programme_id,
        trim(agency_ref) as agency_ref,

        ---------- strings
        nullif({{ trim_spaces('reporting_org_name') }}, '') as reporting_org_name,
        nullif({{ trim_spaces('title') }}, '') as title,
        nullif({{ trim_spaces('description') }}, '') as description,
        nullif({{ trim_spaces('objectives') }}, '') as objectives,
        nullif({{ trim_spaces('target_groups') }}, '') as target_groups,
        nullif({{ trim_spaces('other_description') }}, '') as other_description,
        coalesce(nullif(languages, ''), 'en') as languages,
        activity_status,
        -- The currency of the budget: none without a budget (a publisher's default currency says nothing then).
        case when budget_value is not null then upper(coalesce(budget_currency, default_currency)) end as budget_currency,

        ---------- numerics
        -- Money as an exact decimal (to the cent), so budget sums are the same in every run; summing
        -- floating-point values in whatever order the threads meet them is not.
        cast(budget_value as decimal(18, 2)) as budget_value,

        ---------- booleans
        humanitarian_flag as is_humanitarian_by_publisher,

        ---------- dates
        start_date,
        end_date,

        ---------- lineage
        extract_id,
        source_file,
        content_hash,
        source_format,
        record_number,
        loaded_at

    from latest_extract

)

select * from renamed
