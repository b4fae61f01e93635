-- Code evidence: every published code (sector, SDG, cluster, policy marker, humanitarian scope, reporting
-- organisation, publisher's humanitarian flag) that a code rule recognises, one row per match. What the
-- rule supports (pillar, right, group...) is read off the rule in int_evidence_matches.

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
            cast(max_significance as integer) as max_significance,
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

    select
        *,
        -- A policy marker's significance as a number (parsed once; rules compare it with their range).
        try_cast(regexp_extract(significance, '^\d+') as integer) as significance_level
    from (
        select programme_id, code_type, vocabulary, code, significance, percentage from codes
        union all
        select * from programme_facts
    )

),

prefix_lengths as (

    select distinct code_type, vocabulary, length(code_pattern) as prefix_length
    from rules
    where match_kind = 'prefix'

),

code_keys as (

    -- Each code under every key a rule could use, so rules join on equality, not by testing each code
    -- against each rule: the code itself (exact), its prefixes of the lengths prefix rules use, '' (any).
    select all_codes.*, 'exact' as match_kind, all_codes.code as code_key
    from all_codes
    union all
    select all_codes.*, 'prefix', left(all_codes.code, prefix_lengths.prefix_length)
    from all_codes
    inner join prefix_lengths
        on prefix_lengths.code_type = all_codes.code_type
        and prefix_lengths.vocabulary = all_codes.vocabulary
        and length(all_codes.code) >= prefix_lengths.prefix_length
    union all
    select all_codes.*, 'any', ''
    from all_codes
    where exists (
        select 1 from rules
        where rules.match_kind = 'any'
            and rules.code_type = all_codes.code_type
            and rules.vocabulary = all_codes.vocabulary
    )

),

matched as (

    select
        code_keys.programme_id,
        rules.rule_id,
        code_keys.code_type || ':' || code_keys.vocabulary as source_field,
        code_keys.code || coalesce(' (significance ' || code_keys.significance || ')', '') as matched_text,
        code_keys.percentage,
        -- "Code what you see": a principal-objective code that is a minor share of the sectors
        -- supports a significant, not a principal, human rights objective.
        case
            when rules.marker_level = 3 and code_keys.percentage < 50 then 2
            else rules.marker_level
        end as marker_level
    from code_keys
    inner join rules
        on rules.code_type = code_keys.code_type
        and rules.vocabulary = code_keys.vocabulary
        and rules.match_kind = code_keys.match_kind
        and coalesce(rules.code_pattern, '') = code_keys.code_key
    where
        -- A policy marker rule holds for a range of significance: "not targeted" (0 to 0) is not reported
        -- for a marker published as significant or principal.
        (rules.min_significance is null or code_keys.significance_level >= rules.min_significance)
        and (rules.max_significance is null or code_keys.significance_level <= rules.max_significance)

)

select
    *,
    {{ evidence_tie_break('rule_id', 'matched_text') }} as tie_break
from matched
