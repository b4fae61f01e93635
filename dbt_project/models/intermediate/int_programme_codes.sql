-- The codes of each programme's latest extract (a re-dropped programme keeps only its newest codes).

with

programmes as (

    select * from {{ ref('stg_ingest__programmes') }}

),

codes as (

    select * from {{ ref('stg_ingest__programme_codes') }}

),

latest_codes as (

    select codes.*
    from codes
    inner join programmes
        on programmes.programme_id = codes.programme_id
        and programmes.extract_id = codes.extract_id

)

select * from latest_codes
