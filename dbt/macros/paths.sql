{% macro lake_dir() -%}
  {{ return((var('lake_dir') | string).rstrip('/')) }}
{%- endmacro %}

{% macro silver_dir(name) -%}
  {{ return(lake_dir() ~ '/silver/' ~ name) }}
{%- endmacro %}

{% macro features_dir() -%}
  {{ return(lake_dir() ~ '/features') }}
{%- endmacro %}

{#- <features>/<table>/dt=<feature_date> -#}
{% macro partition_dir(table) -%}
  {{ return(features_dir() ~ '/' ~ table ~ '/dt=' ~ feature_date()) }}
{%- endmacro %}

{#- Does silver hold any file for this dataset yet? (a source with no rows so far has no folder).
    At parse time (execute = false) answer true so dbt records the source() dependency. -#}
{% macro silver_available(name) -%}
  {%- if not execute -%}{{ return(true) }}{%- endif -%}
  {#- riskpipe.indicators.build lists the datasets present (var silver_datasets), for every target -#}
  {%- set present = var('silver_datasets', none) -%}
  {%- if present is not none -%}{{ return(name in present) }}{%- endif -%}
  {{ return(adapter.dispatch('silver_available', 'riskpipe')(name)) }}
{%- endmacro %}

{#- spark SQL cannot list a folder: without var silver_datasets every dataset must exist -#}
{% macro default__silver_available(name) -%}
  {{ return(true) }}
{%- endmacro %}

{% macro duckdb__silver_available(name) -%}
  {%- if not execute -%}{{ return(true) }}{%- endif -%}
  {%- set res = run_query("select riskpipe_silver_files('" ~ silver_dir(name) ~ "')") -%}
  {{ return(res.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- silver rows of one dataset, or an empty relation with the declared silver columns -#}
{% macro silver_relation(name, columns) -%}
  {%- if silver_available(name) -%}
    select * from {{ source('silver', name) }}
  {%- else -%}
    select
    {%- for col, typ in columns.items() %}
      cast(null as {{ typ }}) as {{ col }},
    {%- endfor %}
      cast(null as {{ dbt.type_timestamp() }}) as event_ts,
      cast(null as {{ dbt.type_timestamp() }}) as known_at,
      cast(null as date) as dt,
      cast(null as date) as _landing_dt,
      cast(null as {{ dbt.type_string() }}) as _source_file,
      cast(null as {{ dbt.type_bigint() }}) as _source_row,
      cast(null as {{ dbt.type_string() }}) as _run_id
    where 1 = 0
  {%- endif -%}
{%- endmacro %}
