-- Contract with the dashboards (apps/): see rpt_lead_funnel in _reporting__models.yml.

select
    team_id::text as team_id,
    created_date::date as created_date,
    source::text as source,
    owner_id::text as owner_id,
    owner_name::text as owner_name,
    leads_created::integer as leads_created,
    leads_contacted::integer as leads_contacted,
    leads_qualified::integer as leads_qualified,
    leads_converted::integer as leads_converted,
    contacted_rate::numeric as contacted_rate,
    qualified_rate::numeric as qualified_rate,
    converted_rate::numeric as converted_rate,
    avg_hours_to_contacted::numeric as avg_hours_to_contacted,
    avg_hours_to_qualified::numeric as avg_hours_to_qualified,
    avg_hours_to_converted::numeric as avg_hours_to_converted
from {{ ref('fct_lead_funnel') }}
