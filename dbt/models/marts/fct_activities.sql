-- One row per live (not deleted) timeline entry, logged or derived, with the acting member,
-- the type-specific facts (call duration and outcome, email and meeting status) and how much
-- conversation it drew (live comments, mentions).
{{ config(indexes=[{'columns': ['team_id', 'activity_date']}, {'columns': ['team_id', 'related_to_type', 'related_to_id']}]) }}

with activities as (

    select * from {{ ref('stg_app__activities') }}
    where not is_deleted

),

members as (

    select team_id, member_id, name from {{ ref('stg_app__team_members') }}

),

comments as (

    {{ count_per_key(ref('stg_app__activity_comments'), 'activity_id', 'comments_count',
                     'not is_deleted') }}

),

mentions as (

    {{ count_per_key(ref('stg_app__mentions'), 'activity_id', 'mentions_count') }}

)

select
    activities.team_id,
    activities.activity_id,
    activities.activity_type,
    activities.subject,
    activities.related_to_type,
    activities.related_to_id,
    activities.actor_type,
    activities.member_id,
    members.name as member_name,
    activities.occurred_at,
    {{ utc_date('activities.occurred_at') }} as activity_date,
    activities.is_derived,
    activities.source_event_id,
    case
        when activities.activity_type = 'call'
            and jsonb_typeof(activities.metadata -> 'duration') = 'number'
            then (activities.metadata ->> 'duration')::integer
    end as call_duration_seconds,
    case
        when activities.activity_type = 'call'
            then nullif(activities.metadata ->> 'outcome', '')
    end as call_outcome,
    case
        when activities.activity_type = 'call' then coalesce(
            activities.metadata ->> 'outcome' in (
                {%- for o in var('connected_call_outcomes') %}'{{ o }}'{{ ", " if not loop.last }}{% endfor -%}
            ), false)
    end as is_connected_call,
    case
        when activities.activity_type = 'email' then activities.metadata ->> 'status'
    end as email_status,
    case
        when activities.activity_type = 'meeting' then activities.metadata ->> 'status'
    end as meeting_status,
    case
        when activities.activity_type = 'meeting'
            then (activities.metadata ->> 'starts_at')::timestamptz
    end as meeting_starts_at,
    case
        when activities.activity_type = 'status_change' then activities.metadata ->> 'field'
    end as changed_status_field,
    coalesce(comments.comments_count, 0)::integer as comments_count,
    coalesce(mentions.mentions_count, 0)::integer as mentions_count,
    activities.created_at
from activities
left join members
    on  activities.team_id = members.team_id
    and activities.member_id = members.member_id
left join comments
    on  activities.team_id = comments.team_id
    and activities.activity_id = comments.activity_id
left join mentions
    on  activities.team_id = mentions.team_id
    and activities.activity_id = mentions.activity_id
