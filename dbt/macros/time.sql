{#- The feature date T (var `feature_date`, YYYY-MM-DD) and its timestamp T 00:00 UTC.
    Every daily value uses events with event_ts < feature_ts and known_at <= feature_ts. -#}

{% macro feature_date() -%}
  {%- set d = var('feature_date', none) -%}
  {%- if d is none -%}
    {{ exceptions.raise_compiler_error("var feature_date is required: dbt build --vars '{feature_date: \"YYYY-MM-DD\"}'") }}
  {%- endif -%}
  {%- set d = d | string -%}
  {%- if not modules.re.match('^\\d{4}-\\d{2}-\\d{2}$', d) -%}
    {{ exceptions.raise_compiler_error("var feature_date must be YYYY-MM-DD, got '" ~ d ~ "'") }}
  {%- endif -%}
  {%- do modules.datetime.date.fromisoformat(d) -%}
  {{- return(d) -}}
{%- endmacro %}

{% macro date_literal(d) -%}
  cast('{{ d }}' as date)
{%- endmacro %}

{% macro feature_ts() -%}
  {{ return(ts_literal(feature_date() ~ ' 00:00:00')) }}
{%- endmacro %}

{% macro ts_literal(s) -%}
  {{ return(adapter.dispatch('ts_literal', 'riskpipe')(s)) }}
{%- endmacro %}

{% macro default__ts_literal(s) -%}
  cast('{{ s }}' as timestamp)
{%- endmacro %}

{% macro duckdb__ts_literal(s) -%}
  cast('{{ s }}+00' as timestamptz)
{%- endmacro %}

{% macro spark__ts_literal(s) -%}
  to_timestamp('{{ s }}')
{%- endmacro %}

{#- seconds from `earlier` to `later`, exact to the microsecond: the difference is taken in integer
    microseconds before dividing (a difference of two double epochs of today's magnitude, ~1.8e9 s,
    loses the last digits: 44.821 s came out as 44.82100009918213) -#}
{% macro seconds_between(later, earlier) -%}
  {{ return(adapter.dispatch('seconds_between', 'riskpipe')(later, earlier)) }}
{%- endmacro %}

{% macro default__seconds_between(later, earlier) -%}
  ((epoch_us({{ later }}) - epoch_us({{ earlier }})) / 1000000.0)
{%- endmacro %}

{% macro spark__seconds_between(later, earlier) -%}
  ((unix_micros({{ later }}) - unix_micros({{ earlier }})) / 1000000.0)
{%- endmacro %}

{#- timestamp minus n units (day/hour); written as an interval literal both dialects accept -#}
{% macro ago(ts, n, unit) -%}
  ({{ ts }} - interval {{ n }} {{ unit }})
{%- endmacro %}

{% macro later(ts, n, unit) -%}
  ({{ ts }} + interval {{ n }} {{ unit }})
{%- endmacro %}

{#- whole days from date a to date b (b - a) -#}
{% macro days_between(a, b) -%}
  {{ dbt.datediff(a, b, 'day') }}
{%- endmacro %}

{#- the timestamp of a row's computation: deterministic (the feature time itself), so a rerun of the
    same date gives an identical partition; Feast breaks ties on it. -#}
{% macro created_ts() -%}
  {{ feature_ts() }}
{%- endmacro %}

{#- the type of UTC instants: duckdb timestamptz (session TimeZone = UTC), spark timestamp -#}
{% macro ts_type() -%}
  {{ return(adapter.dispatch('ts_type', 'riskpipe')()) }}
{%- endmacro %}

{% macro default__ts_type() -%}timestamp{%- endmacro %}

{% macro duckdb__ts_type() -%}timestamptz{%- endmacro %}

{#- Order-independent aggregation of amounts. Summing doubles in parallel gives results that differ
    in the last bits from run to run (hash aggregation order), which breaks byte-identical reruns.
    Amounts are summed as decimals (exact, so any order gives the same total) and converted after. -#}
{% macro exact_amount(x) -%}
  cast({{ x }} as decimal(18, 6))
{%- endmacro %}

{#- x * x as an exact decimal: 38 digits, since an 18-digit decimal squared keeps 18 digits in
    DuckDB and overflows from amounts of 1,000 up -#}
{% macro exact_square(x) -%}
  (cast({{ x }} as decimal(38, 6)) * cast({{ x }} as decimal(38, 6)))
{%- endmacro %}

{% macro exact_sum(x) -%}
  cast(sum({{ exact_amount(x) }}) as double)
{%- endmacro %}

{% macro exact_avg(x) -%}
  (cast(sum({{ exact_amount(x) }}) as double) / nullif(count({{ x }}), 0))
{%- endmacro %}

{#- sample standard deviation from exact sums: sqrt((n * sum(x^2) - sum(x)^2) / (n * (n - 1))),
    null for fewer than two values -#}
{% macro exact_stddev_samp(x) -%}
  case when count({{ x }}) >= 2 then sqrt(greatest(
      cast(count({{ x }}) * sum({{ exact_square(x) }})
           - sum({{ exact_amount(x) }}) * sum({{ exact_amount(x) }}) as double)
      / (count({{ x }}) * (count({{ x }}) - 1)), 0)) end
{%- endmacro %}
