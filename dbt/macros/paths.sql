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

{% macro quarantine_dir(name) -%}
  {{ return(lake_dir() ~ '/quarantine/' ~ name) }}
{%- endmacro %}

{#- Does silver hold any file for this dataset yet? (a source with no rows so far has no folder).
    At parse time (execute = false) answer true so dbt records the source() dependency. -#}
{% macro silver_available(name) -%}
  {{ return(lake_files_available('silver_datasets', silver_dir(name), name)) }}
{%- endmacro %}

{#- Has ingest quarantined any row of this dataset yet? (same rules, var quarantine_datasets) -#}
{% macro quarantine_available(name) -%}
  {{ return(lake_files_available('quarantine_datasets', quarantine_dir(name), name)) }}
{%- endmacro %}

{% macro lake_files_available(list_var, dir, name) -%}
  {%- if not execute -%}{{ return(true) }}{%- endif -%}
  {#- riskpipe.indicators.build lists the datasets present (vars silver_datasets, quarantine_datasets),
      for every target -#}
  {%- set present = var(list_var, none) -%}
  {%- if present is not none -%}{{ return(name in present) }}{%- endif -%}
  {{ return(adapter.dispatch('lake_files_available', 'riskpipe')(dir)) }}
{%- endmacro %}

{#- spark SQL cannot list a folder: without the var every dataset must exist -#}
{% macro default__lake_files_available(dir) -%}
  {{ return(true) }}
{%- endmacro %}

{% macro duckdb__lake_files_available(dir) -%}
  {%- set res = run_query("select riskpipe_silver_files('" ~ dir ~ "')") -%}
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


{#- quarantined rows of one dataset (ingest's record of each rejected row: _source_file, _source_row,
    reason, detail, raw = the landing record as JSON with PII tokenised; dt = landing day), or an
    empty relation of those columns -#}
{% macro quarantine_relation(name) -%}
  {%- if quarantine_available(name) -%}
    select _source_file, _source_row, reason, raw, cast(dt as date) as dt from {{ source('quarantine', name) }}
  {%- else -%}
    select
      cast(null as {{ dbt.type_string() }}) as _source_file,
      cast(null as {{ dbt.type_bigint() }}) as _source_row,
      cast(null as {{ dbt.type_string() }}) as reason,
      cast(null as {{ dbt.type_string() }}) as raw,
      cast(null as date) as dt
    where 1 = 0
  {%- endif -%}
{%- endmacro %}
