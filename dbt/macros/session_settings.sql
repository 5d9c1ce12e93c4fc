{#
  Pre-hook of every model (inside its transaction, so SET LOCAL ends with it): no JIT (the
  event-log models' estimates are large enough to trigger it, and compiling costs more than it
  saves), and sorts/hashes in memory rather than on disk (var work_mem).
#}
{% macro session_settings() -%}
    set local jit = off;
    set local work_mem = '{{ var("work_mem", "64MB") }}'
{%- endmacro %}

{#
  Post-hook of every model: an incremental model built in full (first build, --full-refresh)
  gets fresh planner statistics at once, so the next incremental runs' look-ups (few rows past
  a watermark) are planned as index scans rather than from default guesses.
#}
{% macro analyze_if_rebuilt() -%}
    {%- if model.config.materialized == 'incremental' and not is_incremental() -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
