-- One row per live (not deleted, not merged away) lead: its current attributes, owner, and
-- when it reached each funnel step (from the event log, int_lead_funnel_steps).

with leads as (

    select * from {{ ref('stg_app__leads') }}
    where not is_deleted

),

steps as (

    select * from {{ ref('int_lead_funnel_steps') }}

),

members as (

    select * from {{ ref('stg_app__team_members') }}

)

select
    leads.team_id,
    leads.lead_id,
    nullif(concat_ws(' ', leads.first_name, leads.last_name), '') as full_name,
    leads.email,
    leads.phone,
    leads.title,
    leads.company_name,
    coalesce(nullif(leads.source, ''), 'unknown') as source,
    leads.status,
    leads.rating,
    leads.reviews_count,
    leads.website,
    leads.website_score,
    leads.industry,
    leads.location,
    leads.owner_id,
    members.name as owner_name,
    leads.created_by,
    leads.created_at,
    {{ utc_date('leads.created_at') }} as created_date,
    leads.updated_at,
    steps.contacted_at,
    steps.qualified_at,
    steps.converted_at,
    leads.converted_contact_id,
    leads.converted_account_id,
    leads.status = 'converted' as is_converted,
    leads.custom,
    leads.version
from leads
left join steps
    on  leads.team_id = steps.team_id
    and leads.lead_id = steps.lead_id
left join members
    on  leads.team_id = members.team_id
    and leads.owner_id = members.member_id
