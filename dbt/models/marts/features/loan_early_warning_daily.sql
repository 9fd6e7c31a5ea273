{{ config(sort_by='loan_id') }}
{#- post-loan early warning indicators per loan whose schedule is known at T -#}
with loans as (
    select * from {{ ref('int_loans_status_as_of') }}
),

transactions as (
    select * from {{ ref('int_customers_transactions_aggregated') }}
),

devices as (
    select * from {{ ref('int_customers_devices_aggregated') }}
),

final as (
    select
        loans.loan_id,
        loans.customer_id,
        {{ feature_ts() }} as feature_ts,
        {{ created_ts() }} as created_ts,
        loans.installments_due,
        loans.installments_paid,
        cast(loans.installments_paid as double) / nullif(loans.installments_due, 0) as paid_ratio,
        loans.dpd_current,
        cast(loans.dpd_current - loans.dpd_30d_ago as {{ dbt.type_int() }}) as dpd_change_30d,
        cast(coalesce(transactions.txn_count_30d, 0) - coalesce(transactions.txn_count_prev_30d, 0)
             as double) / (coalesce(transactions.txn_count_prev_30d, 0) + 1) as txn_count_30d_change,
        cast(coalesce(devices.login_count_30d, 0) - coalesce(devices.login_count_prev_30d, 0)
             as double) / (coalesce(devices.login_count_prev_30d, 0) + 1) as login_count_30d_change
    from loans
    left join transactions on loans.customer_id = transactions.customer_id
    left join devices on loans.customer_id = devices.customer_id
)

select * from final
