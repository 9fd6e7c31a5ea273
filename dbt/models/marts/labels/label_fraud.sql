{{ config(sort_by=['feature_ts', 'txn_id']) }}
{#- fraud label per card transaction of day D (feature_ts = the transaction's event_ts), with the
    performance window of the fraud definition in src/riskpipe/models/labels.yml (var
    fraud_performance_days): 1 when a chargeback with a fraud reason became known within the window
    (label_known_at = when the first one did); 0 once the window has passed without one
    (label_known_at = event_ts + the window; a fraud chargeback reported later does not change it:
    the label is final when the window closes). Transactions whose window the lake has not covered
    yet are left out, even with a fraud chargeback already known: a row exists only once matured, so
    recent days never carry their early positives without their negatives. -#}
with transactions as (
    select *, {{ later('event_ts', label_var('fraud_performance_days'), 'day') }} as window_end
    from {{ ref('stg_transactions__transactions') }}
    where event_ts >= {{ feature_ts() }} and event_ts < {{ later(feature_ts(), 1, 'day') }}
),

fraud_chargebacks as (
    select txn_id, min(known_at) as reported_known_at
    from {{ ref('stg_chargebacks__chargebacks') }}
    where is_fraud
    group by txn_id
),

horizon as (
    select chargebacks_horizon_ts as horizon_ts from {{ ref('int_lake_horizon') }}  -- outcomes from chargebacks
),

labelled as (
    select
        transactions.txn_id,
        transactions.customer_id,
        transactions.amount,
        transactions.channel,
        transactions.merchant_country,
        transactions.device_id,
        transactions.event_ts as feature_ts,
        case when transactions.window_end > horizon.horizon_ts then null  -- not matured: left out
             when fraud_chargebacks.reported_known_at <= transactions.window_end then 1
             else 0
        end as label,
        case when fraud_chargebacks.reported_known_at <= transactions.window_end
             then fraud_chargebacks.reported_known_at
             else transactions.window_end
        end as label_known_at
    from transactions
    cross join horizon
    left join fraud_chargebacks on transactions.txn_id = fraud_chargebacks.txn_id
),

final as (
    select
        txn_id,
        customer_id,
        amount,
        channel,
        merchant_country,
        device_id,
        feature_ts,
        cast(label as {{ dbt.type_int() }}) as label,
        case when label = 1 then 'bad' else 'good' end as label_status,
        cast(label_known_at as {{ ts_type() }}) as label_known_at
    from labelled
    where label is not null
)

select * from final
