{{ config(sort_by='customer_id') }}
{#- what fraud scoring reads about a customer before a transaction on day T -#}
with spine as (
    select * from {{ ref('int_customers_spined') }}
),

transactions as (
    select * from {{ ref('int_customers_transactions_aggregated') }}
),

devices as (
    select * from {{ ref('int_customers_devices_aggregated') }}
),

final as (
    select
        spine.customer_id,
        {{ feature_ts() }} as feature_ts,
        {{ created_ts() }} as created_ts,
        cast(coalesce(transactions.txn_count_1d, 0) as {{ dbt.type_bigint() }}) as txn_count_24h,
        cast(coalesce(transactions.txn_sum_1d, 0) as double) as txn_amount_24h,
        cast(coalesce(transactions.txn_count_7d, 0) as {{ dbt.type_bigint() }}) as txn_count_7d,
        cast(coalesce(transactions.txn_sum_7d, 0) as double) as txn_amount_7d,
        transactions.txn_mean_30d as amount_mean_30d,
        cast(coalesce(devices.distinct_devices_30d, 0) as {{ dbt.type_bigint() }}) as distinct_devices_30d,
        cast(coalesce(transactions.distinct_merchants_30d, 0) as {{ dbt.type_bigint() }}) as distinct_merchants_30d,
        transactions.last_txn_ts,
        cast('{{ var('home_country') }}' as {{ dbt.type_string() }}) as home_country,
        cast(devices.recent_devices_30d as {{ dbt.type_string() }}) as recent_devices_30d
    from spine
    left join transactions on spine.customer_id = transactions.customer_id
    left join devices on spine.customer_id = devices.customer_id
)

select * from final
