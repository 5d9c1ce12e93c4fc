{# The semantic layer's call logs: one row per live call log (var connected_call_outcomes). #}
{{ config(indexes=[{'columns': ['team_id', 'started_at']}, {'columns': ['team_id', 'call_log_id'], 'unique': true}]) }}

select
    team_id::text as team_id,
    call_log_id::text as call_log_id,
    lead_id::text as lead_id,
    member_id::text as owner_id,
    coalesce(member_name, member_id, 'Unassigned')::text as owner_name,
    direction::text as direction,
    outcome::text as outcome,
    lead_source::text as lead_source,
    duration_seconds::integer as duration_seconds,
    is_connected::boolean as is_connected,
    started_at::timestamptz as started_at,
    created_at::timestamptz as created_at
from {{ ref('fct_calls') }}
