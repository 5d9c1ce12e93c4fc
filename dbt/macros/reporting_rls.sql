{#
  Post-hook of every reporting (rpt_) model: forced row-level security on the built table.

  - tenant_isolation: any role sees only the rows of the transaction's team
    (SET LOCAL app.team_id / set_config('app.team_id', ..., true)); without a team, no rows.
  - analytics_all: the analytics role (dbt itself: tests, incremental inserts and deletes)
    sees and writes every row. FORCE applies the policies to the owner too.
  - the dashboard login role may read the schema's tables, through the policies above.
    (no other analytics_* schema is granted to it).

  The hook runs in the model's transaction, after the new table took the model's name, so no
  reader ever sees the table without its policies. Idempotent (incremental models re-run it).
#}
{% macro reporting_rls(relation=none) -%}
    {%- set rel = relation if relation is not none else this -%}
    {%- set analytics = adapter.quote(analytics_role()) -%}
    {%- set dashboard = adapter.quote(dashboard_role()) -%}
    alter table {{ rel }} enable row level security;
    alter table {{ rel }} force row level security;
    drop policy if exists tenant_isolation on {{ rel }};
    create policy tenant_isolation on {{ rel }} for select
        using (team_id = current_setting('app.team_id', true));
    drop policy if exists analytics_all on {{ rel }};
    create policy analytics_all on {{ rel }} for all to {{ analytics }}
        using (true) with check (true);
    grant select on {{ rel }} to {{ dashboard }};
    -- the schema grant once: concurrent GRANTs on one schema fail ("tuple concurrently
    -- updated"), so models built in parallel take turns (lock held to commit) and skip it
    -- when it is already there
    select pg_advisory_xact_lock(hashtext('leadly.reporting_rls'));
    do $rls$
    begin
        if not has_schema_privilege({{ "'" ~ dashboard_role() ~ "'" }}, {{ "'" ~ rel.schema ~ "'" }}, 'USAGE') then
            grant usage on schema {{ adapter.quote(rel.schema) }} to {{ dashboard }};
        end if;
    end
    $rls$
{%- endmacro %}
