{#- feature_partition: write the model's rows as ONE partition of a feature/label table:
      <lake>/features/<table>/dt=<feature_date>/data.parquet
    rewritten whole on every run of that date (idempotent), rows ordered by config `sort_by`.
    The relation dbt sees afterwards is a view over exactly that partition, so dbt tests check
    what was published.

    duckdb: COPY to a hidden temporary file in the partition folder, then an atomic os.replace
    (riskpipe_publish UDF from riskpipe.indicators.duckdb_plugin) into data.parquet.
    spark: INSERT OVERWRITE DIRECTORY into <lake>/features/_staging/<table>/dt=<date>/<invocation>
    with one partition; riskpipe.indicators.build moves the single part file to data.parquet. -#}

{% materialization feature_partition, adapter='duckdb' %}
  {%- set table = this.identifier -%}
  {%- set final_dir = partition_dir(table) -%}
  {%- set final_file = final_dir ~ '/data.parquet' -%}
  {%- set tmp_file = final_dir ~ '/.data.parquet.' ~ invocation_id ~ '.tmp' -%}
  {%- set sort_by = config.get('sort_by') -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set existing = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('mkdirs') -%}
    select riskpipe_mkdirs('{{ final_dir }}')
  {%- endcall %}
  {% call statement('main') -%}
    copy (
      select * from (
        {{ sql }}
      ) as model_rows
      {% if sort_by %}order by {{ sort_by if sort_by is string else sort_by | join(', ') }}{% endif %}
    ) to '{{ tmp_file }}' (format parquet, compression zstd)
  {%- endcall %}
  {% call statement('publish') -%}
    select riskpipe_publish('{{ tmp_file }}', '{{ final_file }}')
  {%- endcall %}

  {% if existing is not none and existing.type != 'view' %}
    {{ drop_relation_if_exists(existing) }}
  {% endif %}
  {% call statement('view') -%}
    create or replace view {{ target_relation }} as
    select * from read_parquet('{{ final_file }}')
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{% materialization feature_partition, adapter='spark' %}
  {%- set table = this.identifier -%}
  {%- set staging_dir = features_dir() ~ '/_staging/' ~ table ~ '/dt=' ~ feature_date() ~ '/' ~ invocation_id -%}
  {%- set sort_by = config.get('sort_by') -%}
  {%- set target_relation = this.incorporate(type='view') -%}

  {{ run_hooks(pre_hooks) }}
  {% call statement('main') -%}
    insert overwrite directory '{{ staging_dir }}' using parquet
    select * from (
      select /*+ REPARTITION(1) */ * from (
        {{ sql }}
      ) as model_rows
    ) as one_partition
    {% if sort_by %}sort by {{ sort_by if sort_by is string else sort_by | join(', ') }}{% endif %}
  {%- endcall %}
  {% call statement('view') -%}
    create or replace view {{ target_relation }} as
    select * from parquet.`{{ staging_dir }}`
  {%- endcall %}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
