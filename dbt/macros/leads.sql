{#
  Funnel rank of a lead status: new 1 < contacted 2 < qualified 3 < converted 4. A lead at a
  later step has passed the earlier ones; unqualified (0) is off the funnel.
#}
{% macro lead_status_rank(status) -%}
    case {{ status }}
        when 'new' then 1
        when 'contacted' then 2
        when 'qualified' then 3
        when 'converted' then 4
        else 0
    end
{%- endmacro %}
