{#- per-transaction context for the transactions that became known by the feature date T: those that
    landed on day T - 1 (known_at = T, when the daily run for landing day D builds feature date D + 1),
    which are the transactions of [T - 1 day, T) plus any late arrival of an earlier day. So each
    transaction gets its row exactly once, in the daily run after it lands, and a rebuild of T gives
    the same rows. Everything is read as known at T (known_at <= T). Windows run over the same
    customer's transactions strictly before this one by event time (the card processor streams
    them, so scoring saw them at once); merchant risk uses chargebacks known at the start of the
    transaction's own day over the merchant's transactions known then (chargebacks land at day
    boundaries, so "known before the transaction" = known_at <= that day's start). -#}
{%- set day_start = ago(feature_ts(), 1, 'day') %}
{%- set day_end = feature_ts() %}
with transactions as (
    select * from {{ ref('stg_transactions__transactions') }}
    where event_ts < {{ day_end }} and known_at <= {{ day_end }}
),

todays as (
    select *, {{ dbt.date_trunc('day', 'event_ts') }} as txn_day
    from transactions
    where known_at > {{ day_start }}
),

txn_days as (
    select distinct txn_day from todays
),

recent as (
    select customer_id, event_ts, amount
    from transactions
    where event_ts >= (select {{ ago('min(txn_day)', 30, 'day') }} from txn_days)
),

pairs as (
    select
        todays.txn_id,
        todays.event_ts,
        recent.event_ts as prior_ts,
        recent.amount as prior_amount
    from todays
    inner join recent
        on recent.customer_id = todays.customer_id
       and recent.event_ts < todays.event_ts
       and recent.event_ts >= {{ ago('todays.event_ts', 30, 'day') }}
),

windows as (
    select
        txn_id,
        {% for label, n, unit in [('1h', 1, 'hour'), ('24h', 24, 'hour'), ('7d', 7, 'day')] -%}
        sum(case when prior_ts >= {{ ago('event_ts', n, unit) }} then 1 else 0 end) as txn_count_{{ label }},
        {{ exact_sum("case when prior_ts >= " ~ ago('event_ts', n, unit) ~ " then prior_amount else 0 end") }} as txn_amount_{{ label }},
        {% endfor -%}
        {{ exact_avg('prior_amount') }} as amount_mean_30d,
        max(prior_ts) as prev_ts_30d
    from pairs
    group by txn_id
),

{#- per-day summaries first, so that a late arrival's extra days join days, not transactions -#}
customer_days as (
    select customer_id, {{ dbt.date_trunc('day', 'event_ts') }} as day, max(event_ts) as last_ts
    from transactions
    group by customer_id, {{ dbt.date_trunc('day', 'event_ts') }}
),

last_before_day as (
    select customer_days.customer_id, txn_days.txn_day, max(customer_days.last_ts) as prev_ts
    from customer_days
    inner join txn_days on customer_days.day < txn_days.txn_day
    group by customer_days.customer_id, txn_days.txn_day
),

merchant_first_use as (
    select customer_id, merchant_id, min(event_ts) as first_ts
    from transactions
    group by customer_id, merchant_id
),

device_uses as (
    select customer_id, device_id, event_ts from transactions where device_id is not null
    union all
    select customer_id, device_id, event_ts from {{ ref('stg_device_events__device_events') }}
    where event_ts < {{ day_end }} and known_at <= {{ day_end }}
),

device_first_use as (
    select customer_id, device_id, min(event_ts) as first_ts
    from device_uses
    group by customer_id, device_id
),

fraud_chargebacks as (
    select txn_id, min(known_at) as known_at
    from {{ ref('stg_chargebacks__chargebacks') }}
    where is_fraud and known_at <= {{ day_end }}
    group by txn_id
),

merchant_days as (
    select
        transactions.merchant_id,
        {{ dbt.date_trunc('day', 'transactions.event_ts') }} as day,
        transactions.known_at,
        fraud_chargebacks.known_at as fraud_known_at,
        count(*) as txns
    from transactions
    left join fraud_chargebacks on transactions.txn_id = fraud_chargebacks.txn_id
    group by transactions.merchant_id, {{ dbt.date_trunc('day', 'transactions.event_ts') }}, transactions.known_at,
        fraud_chargebacks.known_at
),

merchant_risk as (
    select
        txn_days.txn_day,
        merchant_days.merchant_id,
        sum(merchant_days.txns) as txns,
        sum(case when merchant_days.fraud_known_at <= txn_days.txn_day then merchant_days.txns else 0 end) as frauds
    from merchant_days
    inner join txn_days
        on merchant_days.day < txn_days.txn_day and merchant_days.known_at <= txn_days.txn_day
    group by txn_days.txn_day, merchant_days.merchant_id
),

final as (
    select
        todays.txn_id,
        todays.customer_id,
        todays.card_token,
        todays.event_ts,
        todays.amount,
        cast(coalesce(windows.txn_count_1h, 0) as {{ dbt.type_bigint() }}) as txn_count_1h,
        cast(coalesce(windows.txn_amount_1h, 0) as double) as txn_amount_1h,
        cast(coalesce(windows.txn_count_24h, 0) as {{ dbt.type_bigint() }}) as txn_count_24h,
        cast(coalesce(windows.txn_amount_24h, 0) as double) as txn_amount_24h,
        cast(coalesce(windows.txn_count_7d, 0) as {{ dbt.type_bigint() }}) as txn_count_7d,
        cast(coalesce(windows.txn_amount_7d, 0) as double) as txn_amount_7d,
        cast({{ seconds_between('todays.event_ts', 'coalesce(windows.prev_ts_30d, last_before_day.prev_ts)') }}
             as double) as secs_since_prev_txn,
        cast(todays.amount / nullif(windows.amount_mean_30d, 0) as double) as amount_vs_mean_30d,
        cast(case when merchant_first_use.first_ts < todays.event_ts then 0 else 1 end as {{ dbt.type_int() }})
            as is_new_merchant,
        cast(case when todays.device_id is null then 0
                  when device_first_use.first_ts < todays.event_ts then 0 else 1 end as {{ dbt.type_int() }})
            as is_new_device,
        cast((coalesce(merchant_risk.frauds, 0) + 1) as double)
            / (coalesce(merchant_risk.txns, 0) + 50) as merchant_fraud_rate
    from todays
    left join windows on todays.txn_id = windows.txn_id
    left join last_before_day
        on todays.customer_id = last_before_day.customer_id and todays.txn_day = last_before_day.txn_day
    left join merchant_first_use
        on todays.customer_id = merchant_first_use.customer_id and todays.merchant_id = merchant_first_use.merchant_id
    left join device_first_use
        on todays.customer_id = device_first_use.customer_id and todays.device_id = device_first_use.device_id
    left join merchant_risk on todays.merchant_id = merchant_risk.merchant_id and todays.txn_day = merchant_risk.txn_day
)

select * from final
