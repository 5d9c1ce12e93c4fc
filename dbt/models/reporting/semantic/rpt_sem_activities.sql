{# The semantic layer's timeline entries: one row per live activity (logged or derived). #}
{{ config(indexes=[{'columns': ['team_id', 'occurred_at']}, {'columns': ['team_id', 'activity_id'], 'unique': true}]) }}

select
    team_id::text as team_id,
    activity_id::text as activity_id,
    activity_type::text as activity_type,
    related_to_type::text as related_to_type,
    related_to_id::text as related_to_id,
    member_id::text as owner_id,
    coalesce(member_name, member_id, 'Unassigned')::text as owner_name,
    is_derived::boolean as is_derived,
    occurred_at::timestamptz as occurred_at,
    created_at::timestamptz as created_at
from {{ ref('fct_activities') }}
