{#- card transaction behaviour per customer at T. A transaction counts if event_ts < T and
    known_at <= T; window w covers [T - w, T). Counts and sums are 0 without transactions, means,
    standard deviations (sample) and shares are null. Amount aggregates are exact (see exact_sum). -#}
{%- set windows = [('1d', 1), ('7d', 7), ('30d', 30), ('90d', 90)] -%}
with transactions as (
    select * from {{ ref('stg_transactions__transactions') }}
    where event_ts < {{ feature_ts() }}
      and known_at <= {{ feature_ts() }}
),

flagged as (
    select
        customer_id,
        event_ts,
        amount,
        merchant_id,
        merchant_category,
        {% for label, days in windows -%}
        case when event_ts >= {{ ago(feature_ts(), days, 'day') }} then 1 else 0 end as in_{{ label }},
        {% endfor -%}
        case when event_ts >= {{ ago(feature_ts(), 60, 'day') }} and event_ts < {{ ago(feature_ts(), 30, 'day') }}
             then 1 else 0 end as in_prev_30d,
        case when extract(hour from event_ts) < {{ var('night_end_hour') }} then 1 else 0 end as is_night,
        case when merchant_country <> '{{ var('home_country') }}' then 1 else 0 end as is_cross_border
    from transactions
),

final as (
    select
        customer_id,
        {% for label, days in windows -%}
        cast(sum(in_{{ label }}) as {{ dbt.type_bigint() }}) as txn_count_{{ label }},
        coalesce({{ exact_sum('case when in_' ~ label ~ ' = 1 then amount end') }}, 0) as txn_sum_{{ label }},
        {{ exact_avg('case when in_' ~ label ~ ' = 1 then amount end') }} as txn_mean_{{ label }},
        {{ exact_stddev_samp('case when in_' ~ label ~ ' = 1 then amount end') }} as txn_std_{{ label }},
        {% endfor -%}
        cast(sum(in_prev_30d) as {{ dbt.type_bigint() }}) as txn_count_prev_30d,
        cast(sum(case when in_30d = 1 then is_night else 0 end) as double)
            / nullif(sum(in_30d), 0) as night_share_30d,
        cast(count(distinct case when in_30d = 1 then merchant_id end) as {{ dbt.type_bigint() }})
            as distinct_merchants_30d,
        cast(count(distinct case when in_30d = 1 then merchant_category end) as {{ dbt.type_bigint() }})
            as distinct_categories_30d,
        cast(sum(case when in_30d = 1 then is_cross_border else 0 end) as double)
            / nullif(sum(in_30d), 0) as cross_border_share_30d,
        -- whole seconds: Feast keeps online timestamps in seconds, so finer offline values would
        -- differ between training (offline) and serving (online)
        {{ dbt.date_trunc('second', 'max(event_ts)') }} as last_txn_ts
    from flagged
    group by customer_id
)

select * from final
