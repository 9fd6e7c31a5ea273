{#- the distinct non-null values of a string column, sorted, joined by `sep` (an aggregate) -#}
{% macro sorted_string_agg(x, sep) -%}
  {{ return(adapter.dispatch('sorted_string_agg', 'riskpipe')(x, sep)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(x, sep) -%}
  string_agg(distinct {{ x }}, '{{ sep }}' order by {{ x }})
{%- endmacro %}

{% macro spark__sorted_string_agg(x, sep) -%}
  nullif(array_join(array_sort(collect_set({{ x }})), '{{ sep }}'), '')
{%- endmacro %}
