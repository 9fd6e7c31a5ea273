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

{#- the text of a top-level field of a JSON object held as text (null when absent or not JSON) -#}
{% macro json_text(x, field) -%}
  {{ return(adapter.dispatch('json_text', 'riskpipe')(x, field)) }}
{%- endmacro %}

{% macro default__json_text(x, field) -%}
  json_extract_string(try_cast({{ x }} as json), '$.{{ field }}')
{%- endmacro %}

{% macro spark__json_text(x, field) -%}
  get_json_object({{ x }}, '$.{{ field }}')
{%- endmacro %}

{#- text as an integer, null when it is not one -#}
{% macro try_int(x) -%}
  {{ return(adapter.dispatch('try_int', 'riskpipe')(x)) }}
{%- endmacro %}

{% macro default__try_int(x) -%}
  try_cast({{ x }} as {{ dbt.type_int() }})
{%- endmacro %}

{% macro spark__try_int(x) -%}
  try_cast({{ x }} as int)
{%- endmacro %}
