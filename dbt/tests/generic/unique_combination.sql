{#
  Primary key of several columns: no two rows share the combination (nulls compare equal, as
  in GROUP BY). Usage on a model:  data_tests: [unique_combination: {columns: [a, b]}]
#}
{% test unique_combination(model, columns) %}
    select {{ columns | join(", ") }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(", ") }}
    having count(*) > 1
{% endtest %}

{# Every listed column is non-null on every row. #}
{% test not_null_columns(model, columns) %}
    select *
    from {{ model }}
    where {% for c in columns %}{{ c }} is null{{ " or " if not loop.last }}{% endfor %}
{% endtest %}
