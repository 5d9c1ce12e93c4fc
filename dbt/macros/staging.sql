{#
  The last columns of the staging view of every versioned, soft-deletable app table (the
  Timestamps, Version and SoftDelete mixins of warehouse/models/base.py): created_at,
  updated_at, version, deleted_at, and is_deleted. Soft-deleted rows are kept, flagged.

    select team_id, id as lead_id, ..., created_by, {{ record_columns() }} from source
#}
{% macro record_columns() -%}
    created_at,
        updated_at,
        version,
        deleted_at,
        deleted_at is not null as is_deleted
{%- endmacro %}
