{#- generic test: values outside [min_value, max_value] (nulls pass; use not_null for those) -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    1 = 0
    {%- if min_value is not none %}
    or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
    {%- endif %}
    {%- if max_value is not none %}
    or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
    {%- endif %}
  )
{% endtest %}

{#- generic test: the combination of columns is unique -#}
{% test unique_combination(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- generic test: every row of the partition carries the build's feature timestamp -#}
{% test is_feature_ts(model, column_name) %}
select * from {{ model }} where {{ column_name }} is null or {{ column_name }} <> {{ feature_ts() }}
{% endtest %}

{#- generic test: column <= other_column on every row where both are set (nested windows) -#}
{% test not_greater_than(model, column_name, other_column) %}
select * from {{ model }}
where {{ column_name }} is not null and {{ other_column }} is not null
  and {{ column_name }} > {{ other_column }}
{% endtest %}

{#- generic test: column >= other_column (e.g. a label is never known before its observation) -#}
{% test not_before(model, column_name, other_column) %}
select * from {{ model }}
where {{ column_name }} < {{ other_column }}
{% endtest %}
