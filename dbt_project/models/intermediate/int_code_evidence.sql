-- Code evidence: every published code (sector, SDG, cluster, policy marker, humanitarian scope, reporting
-- organisation, publisher's humanitarian flag) that a code rule recognises, one row per match.

with

codes as (

    select * from {{ ref('int_programme_codes') }}

),

programmes as (

    select * from {{ ref('stg_ingest__programmes') }}

),

rules as (

    select
        * replace (
            cast(vocabulary as varchar) as vocabulary,
            cast(code_pattern as varchar) as code_pattern,
            cast(min_significance as integer) as min_significance,
            cast(sdg_target as varchar) as sdg_target
        )
    from {{ ref('criteria_code_rules') }}

),

programme_facts as (

    -- Facts about the publisher, matched by the same rules as codes.
    select programme_id, 'reporting_org' as code_type, 'iati' as vocabulary, agency_ref as code,
        cast(null as varchar) as significance, cast(null as double) as percentage
    from programmes
    union all
    select programme_id, 'humanitarian_flag', 'iati', '1', null, null
    from programmes
    where is_humanitarian_by_publisher

),

all_codes as (

    select programme_id, code_type, vocabulary, code, significance, percentage from codes
    union all
    select * from programme_facts

),

matched as (

    select
        all_codes.programme_id,
        rules.rule_id,
        'code' as rule_kind,
        all_codes.code_type || ':' || all_codes.vocabulary as source_field,
        all_codes.code || coalesce(' (significance ' || all_codes.significance || ')', '') as matched_text,
        all_codes.percentage,
        -- "Code what you see": a principal-objective code that is a minor share of the sectors
        -- supports a significant, not a principal, human rights objective.
        case
            when rules.marker_level = 3 and all_codes.percentage < 50 then 2
            else rules.marker_level
        end as marker_level,
        rules.pillar_code,
        rules.is_humanitarian = 1 as is_humanitarian,
        rules.right_code,
        rules.group_code,
        rules.principle_code,
        rules.area_code,
        rules.sdg_target,
        rules.rationale as rule_description
    from all_codes
    inner join rules
        on rules.code_type = all_codes.code_type
        and rules.vocabulary = all_codes.vocabulary
        and (
            (rules.match_kind = 'exact' and all_codes.code = rules.code_pattern)
            or (rules.match_kind = 'prefix' and starts_with(all_codes.code, rules.code_pattern))
            or rules.match_kind = 'any'
        )
        and (
            rules.min_significance is null
            or try_cast(regexp_extract(all_codes.significance, '^\d+') as integer) >= rules.min_significance
        )

)

select
    md5(concat_ws('|', programme_id, rule_id, source_field, matched_text)) as evidence_id,
    *
from matched
