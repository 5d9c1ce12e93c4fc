{#
  on-run-end: when each model last built successfully, in analytics_reporting.model_builds
  (model name → finished_at, the dbt invocation id). Reports answer data_as_of from it: the
  oldest last build among the models a report reads (api/reports). No team data, so no
  row-level security; the dashboard role may read it.
#}
{% macro record_model_builds(results) -%}
    {%- if execute -%}
    {%- set built = [] -%}
    {%- for r in results -%}
        {%- if r.node.resource_type == 'model' and r.status == 'success' -%}
            {%- do built.append(r.node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set dashboard = adapter.quote(dashboard_role()) -%}
    create schema if not exists analytics_reporting;
    create table if not exists analytics_reporting.model_builds (
        model text primary key,
        finished_at timestamptz not null,
        invocation_id text not null
    );
    select pg_advisory_xact_lock(hashtext('leadly.reporting_rls'));
    grant usage on schema analytics_reporting to {{ dashboard }};
    grant select on analytics_reporting.model_builds to {{ dashboard }};
    {%- if built %}
    insert into analytics_reporting.model_builds (model, finished_at, invocation_id)
    select unnest(array[{%- for m in built %}'{{ m }}'{{ ", " if not loop.last }}{% endfor -%}]), clock_timestamp(), '{{ invocation_id }}'
    on conflict (model) do update
        set finished_at = excluded.finished_at, invocation_id = excluded.invocation_id;
    {%- endif %}
    {%- endif -%}
{%- endmacro %}
