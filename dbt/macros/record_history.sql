{#
  The versions of the `object_type` records in int_record_history: every column of it (the
  rows aliased history).

  Building incrementally with `changed` (the name of a CTE of team_id and `key`: the records to
  rebuild), only those records' versions, by one index lookup each. With `from_date`, the CTE
  has a from_date column too: only the versions still in force on or after that UTC day are
  read, and from_date is a column of the result (null when building in full).

    from ({{ record_versions('lead', 'changed_leads') }}) as history
#}
{% macro record_versions(object_type, changed=none, key='object_id', from_date=false) -%}
    {%- if changed is not none and is_incremental() %}
    select
        history.*
        {%- if from_date %},
        {{ changed }}.from_date
        {%- endif %}
    from {{ changed }}
    cross join lateral (
        select *
        from {{ ref('int_record_history') }} as h
        where h.team_id = {{ changed }}.team_id
          and h.object_type = '{{ object_type }}'
          and h.object_id = {{ changed }}.{{ key }}
          {%- if from_date %}
          and (h.valid_to is null or {{ utc_date('h.valid_to') }} > {{ changed }}.from_date)
          {%- endif %}
    ) as history
    {%- else %}
    select
        history.*
        {%- if from_date %},
        null::date as from_date
        {%- endif %}
    from {{ ref('int_record_history') }} as history
    where history.object_type = '{{ object_type }}'
    {%- endif %}
{%- endmacro %}

{#
  The date spine of the daily snapshots: one row per version of an `object_type` record per
  UTC day whose end found the record in that version, up to today (analytics_today()): every
  column of int_record_history, plus first_day, last_day and snapshot_date. A version replaced
  the same day it began has no day; the current version runs to today. A deleted version shows
  on the day it began only (no days after a deletion) unless `deleted_days` is 'all'.

  Building incrementally with `rebuild` (the name of a CTE of team_id, `key` and from_date),
  only those records, from their from_date on (see record_versions).

    from ({{ daily_versions('lead', 'rebuild', 'lead_id') }}) as days
#}
{% macro daily_versions(object_type, rebuild=none, key='object_id', deleted_days='first') -%}
    {%- if deleted_days not in ('first', 'all') -%}
        {{ exceptions.raise_compiler_error("daily_versions: deleted_days is 'first' or 'all'") }}
    {%- endif -%}
    {%- set today = analytics_today() %}
    select
        versions.*,
        day::date as snapshot_date
    from (
        select
            history.*,
            {{ utc_date('history.valid_from') }} as first_day,
            -- the last day this version was the state at the end of the day
            case
                when history.valid_to is null then {{ today }}
                else {{ utc_date('history.valid_to') }} - 1
            end as last_day
        from ({{ record_versions(object_type, rebuild, key, from_date=true) }}) as history
    ) as versions
    cross join lateral generate_series(
        greatest(versions.first_day, coalesce(versions.from_date, versions.first_day))::timestamp,
        {%- if deleted_days == 'first' %}
        case
            when versions.is_deleted then least(versions.first_day, versions.last_day)
            else least(versions.last_day, {{ today }})
        end::timestamp,
        {%- else %}
        least(versions.last_day, {{ today }})::timestamp,
        {%- endif %}
        interval '1 day'
    ) as day
{%- endmacro %}

{#
  Incremental daily snapshots, when the date has moved on since the last run (the highest
  snapshot_date of `this`): every live record of `object_type` gets the days since
  (team_id, `key`, from_date). The filter is a constant: no scan at all while the date has not
  moved on.
#}
{% macro days_since_last_run(object_type, key='object_id') -%}
    select
        history.team_id,
        history.object_id as {{ key }},
        {{ watermark('snapshot_date', 'date') }} + 1 as from_date
    from {{ ref('int_record_history') }} as history
    where history.object_type = '{{ object_type }}'
      and history.is_current
      and not history.is_deleted
      and {{ watermark('snapshot_date', 'date') }} < {{ analytics_today() }}
{%- endmacro %}
