{{ config(sort_by=['feature_ts', 'txn_id']) }}
{#- one row per card transaction that landed on the day before the feature date T (its known_at = T):
    those of [T - 1 day, T) and late arrivals of earlier days (feature_ts = the transaction's event_ts);
    created_ts = T 00:00 UTC, when the landing day is complete -#}
with velocity as (
    select * from {{ ref('int_transactions_velocity') }}
),

final as (
    select
        txn_id,
        customer_id,
        card_token,
        event_ts as feature_ts,
        {{ created_ts() }} as created_ts,
        txn_count_1h,
        txn_amount_1h,
        txn_count_24h,
        txn_amount_24h,
        txn_count_7d,
        txn_amount_7d,
        secs_since_prev_txn,
        amount,
        amount_vs_mean_30d,
        is_new_merchant,
        is_new_device,
        merchant_fraud_rate
    from velocity
)

select * from final
