with source as (
    {{ silver_relation('transactions', {
        'txn_id': dbt.type_string(), 'customer_id': dbt.type_string(), 'card_token': dbt.type_string(),
        'amount': 'double', 'amount_original': 'double', 'currency': dbt.type_string(),
        'merchant_id': dbt.type_string(), 'merchant_category': dbt.type_string(),
        'merchant_country': dbt.type_string(), 'channel': dbt.type_string(), 'device_id': dbt.type_string()}) }}
),

final as (
    select
        cast(txn_id as {{ dbt.type_string() }}) as txn_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(card_token as {{ dbt.type_string() }}) as card_token,
        cast(amount as double) as amount,
        cast(merchant_id as {{ dbt.type_string() }}) as merchant_id,
        cast(merchant_category as {{ dbt.type_string() }}) as merchant_category,
        cast(merchant_country as {{ dbt.type_string() }}) as merchant_country,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(device_id as {{ dbt.type_string() }}) as device_id,
        cast(event_ts as {{ ts_type() }}) as event_ts,
        cast(known_at as {{ ts_type() }}) as known_at,
        cast(dt as date) as dt
    from source
    where txn_id is not null
      and dt >= {{ dbt.dateadd('day', -var('lookback_days'), date_literal(feature_date())) }}
)

select * from final
