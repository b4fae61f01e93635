with

source as (

    select * from {{ source('ingest', 'programme_codes') }}

),

renamed as (

    select
        ---------- ids
        trim(programme_id) as programme_id,
        extract_id,

        ---------- strings
        code_type,
        coalesce(nullif(trim(vocabulary), ''), '1') as vocabulary,
        -- Codes are kept as published (leading zeros such as "01" are meaningful to some publishers),
        -- except SDG targets, which some publishers upper-case ("5.B" is target 5.b).
        case
            when (code_type = 'sector' and vocabulary in ('7', '8')) or (code_type = 'tag' and vocabulary in ('2', '3'))
                then lower(trim(code))
            else trim(code)
        end as code,
        nullif(trim(significance), '') as significance,
        nullif(trim(narrative), '') as narrative,

        ---------- numerics
        percentage

    from source

),

deduplicated as (

    -- A code listed twice in one extract counts once (with its largest share).
    select * from renamed
    qualify row_number() over (
        partition by extract_id, programme_id, code_type, vocabulary, code, significance
        order by percentage desc nulls last
    ) = 1

)

select * from deduplicated
