{#
  The semantic layer's leads (dbt/semantic/leadly.yml): one row per live lead, the columns its
  dimensions and measures read. Reports query it through the team-scoped connection.
#}
{{ config(indexes=[{'columns': ['team_id', 'created_at']}, {'columns': ['team_id', 'lead_id'], 'unique': true}]) }}

select
    team_id::text as team_id,
    lead_id::text as lead_id,
    full_name::text as full_name,
    company_name::text as company_name,
    source::text as source,
    status::text as status,
    owner_id::text as owner_id,
    coalesce(owner_name, owner_id, 'Unassigned')::text as owner_name,
    created_at::timestamptz as created_at,
    contacted_at::timestamptz as contacted_at,
    qualified_at::timestamptz as qualified_at,
    converted_at::timestamptz as converted_at,
    coalesce(is_converted or converted_at is not null, false)::boolean as is_converted,
    -- the cohort's age at conversion: whole calendar months from creation (UTC)
    case when converted_at is not null then
        ((extract(year from converted_at at time zone 'UTC') - extract(year from created_at at time zone 'UTC')) * 12
         + extract(month from converted_at at time zone 'UTC') - extract(month from created_at at time zone 'UTC'))
    end::integer as months_to_convert
from {{ ref('fct_leads') }}
