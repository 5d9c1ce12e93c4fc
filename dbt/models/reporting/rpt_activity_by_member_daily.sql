-- Contract with the dashboards (apps/): see rpt_activity_by_member_daily in
-- _activities__models.yml. Logged calls, emails, meetings and notes per member and UTC day.

with logged as (

    select * from {{ ref('fct_activities') }}
    where activity_type in ('call', 'email', 'meeting', 'note')
      and member_id is not null

),

outcomes as (

    select
        team_id,
        activity_date,
        member_id,
        jsonb_object_agg(outcome, calls order by outcome) as call_outcomes
    from (
        select team_id, activity_date, member_id,
               coalesce(call_outcome, 'unknown') as outcome, count(*) as calls
        from logged
        where activity_type = 'call'
        group by 1, 2, 3, 4
    ) per_outcome
    group by 1, 2, 3

),

daily as (

    select
        team_id,
        activity_date,
        member_id,
        max(member_name) as member_name,
        count(*) filter (where activity_type = 'call') as calls,
        count(*) filter (where activity_type = 'email') as emails,
        count(*) filter (where activity_type = 'meeting') as meetings,
        count(*) filter (where activity_type = 'note') as notes,
        count(*) filter (where is_connected_call) as calls_connected,
        coalesce(sum(call_duration_seconds), 0) as call_duration_seconds
    from logged
    group by 1, 2, 3

)

select
    daily.team_id::text as team_id,
    daily.activity_date::date as activity_date,
    daily.member_id::text as member_id,
    daily.member_name::text as member_name,
    daily.calls::integer as calls,
    daily.emails::integer as emails,
    daily.meetings::integer as meetings,
    daily.notes::integer as notes,
    daily.calls_connected::integer as calls_connected,
    daily.call_duration_seconds::bigint as call_duration_seconds,
    (case when daily.calls > 0
        then round(daily.call_duration_seconds::numeric / daily.calls, 1) end)::numeric
        as avg_call_duration_seconds,
    coalesce(outcomes.call_outcomes, '{}'::jsonb)::jsonb as call_outcomes
from daily
left join outcomes
    on  daily.team_id = outcomes.team_id
    and daily.activity_date = outcomes.activity_date
    and daily.member_id = outcomes.member_id
