-- One row per live (not deleted) call log: who called whom, when, how long, and whether a
-- person answered (var connected_call_outcomes).
{{ config(indexes=[{'columns': ['team_id', 'started_date']}]) }}

-- Built after the history, so it reflects at least every change the incremental rollup saw.
-- depends_on: {{ ref('int_record_history') }}

with calls as (

    select * from {{ ref('stg_app__call_logs') }}
    where not is_deleted

),

members as (

    select * from {{ ref('stg_app__team_members') }}

),

leads as (

    select team_id, lead_id, source from {{ ref('stg_app__leads') }}

)

select
    calls.team_id,
    calls.call_log_id,
    calls.lead_id,
    calls.contact_id,
    calls.member_id,
    members.name as member_name,
    calls.direction,
    calls.phone_number,
    calls.started_at,
    {{ utc_date('calls.started_at') }} as started_date,
    calls.duration_seconds,
    round(calls.duration_seconds / 60.0, 2) as duration_minutes,
    calls.outcome,
    coalesce(calls.outcome in (
        {%- for o in var('connected_call_outcomes') %}'{{ o }}'{{ ", " if not loop.last }}{% endfor -%}
    ), false) as is_connected,
    case
        when leads.lead_id is not null then coalesce(nullif(leads.source, ''), 'unknown')
    end as lead_source,
    calls.transcript is not null as has_transcript,
    calls.recording_url is not null as has_recording,
    calls.created_by,
    calls.created_at
from calls
left join members
    on  calls.team_id = members.team_id
    and calls.member_id = members.member_id
left join leads
    on  calls.team_id = leads.team_id
    and calls.lead_id = leads.lead_id
