{{ config(sort_by=['feature_ts', 'txn_id']) }}
{#- fraud label per card transaction of day D (feature_ts = the transaction's event_ts):
    1 when a chargeback with a fraud reason exists (label_known_at = when the first such chargeback
    became known); 0 once var fraud_label_days have passed without one (label_known_at = event_ts +
    fraud_label_days). Transactions still inside that window without a fraud chargeback are left out. -#}
with transactions as (
    select * from {{ ref('stg_transactions__transactions') }}
    where event_ts >= {{ feature_ts() }} and event_ts < {{ later(feature_ts(), 1, 'day') }}
),

fraud_chargebacks as (
    select txn_id, min(known_at) as reported_known_at
    from {{ ref('stg_chargebacks__chargebacks') }}
    where is_fraud
    group by txn_id
),

horizon as (
    select horizon_ts from {{ ref('int_lake_horizon') }}
),

labelled as (
    select
        transactions.txn_id,
        transactions.customer_id,
        transactions.event_ts as feature_ts,
        case when fraud_chargebacks.txn_id is not null then 1
             when {{ later('transactions.event_ts', var('fraud_label_days'), 'day') }} <= horizon.horizon_ts then 0
        end as label,
        coalesce(fraud_chargebacks.reported_known_at,
                 {{ later('transactions.event_ts', var('fraud_label_days'), 'day') }}) as label_known_at
    from transactions
    cross join horizon
    left join fraud_chargebacks on transactions.txn_id = fraud_chargebacks.txn_id
),

final as (
    select
        txn_id,
        customer_id,
        feature_ts,
        cast(label as {{ dbt.type_int() }}) as label,
        cast(label_known_at as {{ ts_type() }}) as label_known_at
    from labelled
    where label is not null
)

select * from final
