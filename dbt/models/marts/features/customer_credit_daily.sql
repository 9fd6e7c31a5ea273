{{ config(sort_by='customer_id') }}
{#- credit risk indicators per customer at T (one row per customer known at T) -#}
with spine as (
    select * from {{ ref('int_customers_spined') }}
),

customers as (
    select * from {{ ref('int_customers_as_of') }}
),

bureau as (
    select * from {{ ref('int_customers_bureau_as_of') }}
),

applications as (
    select * from {{ ref('int_customers_applications_aggregated') }}
),

repayments as (
    select * from {{ ref('int_customers_repayments_aggregated') }}
),

transactions as (
    select * from {{ ref('int_customers_transactions_aggregated') }}
),

final as (
    select
        spine.customer_id,
        {{ feature_ts() }} as feature_ts,
        {{ created_ts() }} as created_ts,
        cast({{ days_between('customers.date_of_birth', date_literal(feature_date())) }} / 365.25
             as double) as age_years,
        customers.annual_income,
        customers.region,
        customers.employment_status,
        bureau.bureau_score,
        bureau.bureau_open_accounts,
        bureau.bureau_total_balance,
        bureau.bureau_delinquencies_24m,
        bureau.bureau_inquiries_6m,
        bureau.bureau_oldest_account_months,
        cast(coalesce(applications.applications_90d, 0) as {{ dbt.type_bigint() }}) as applications_90d,
        applications.last_requested_amount,
        repayments.dpd_current,
        repayments.dpd_max_12m,
        {% for w in ['3m', '6m', '12m'] -%}
        cast(coalesce(repayments.missed_payments_{{ w }}, 0) as {{ dbt.type_bigint() }}) as missed_payments_{{ w }},
        {% endfor -%}
        {% for w in ['3m', '6m', '12m'] -%}
        repayments.on_time_ratio_{{ w }},
        {% endfor -%}
        repayments.utilisation,
        {% for w in ['1d', '7d', '30d', '90d'] -%}
        cast(coalesce(transactions.txn_count_{{ w }}, 0) as {{ dbt.type_bigint() }}) as txn_count_{{ w }},
        {% endfor -%}
        {% for w in ['1d', '7d', '30d', '90d'] -%}
        cast(coalesce(transactions.txn_sum_{{ w }}, 0) as double) as txn_sum_{{ w }},
        {% endfor -%}
        {% for w in ['1d', '7d', '30d', '90d'] -%}
        transactions.txn_mean_{{ w }},
        {% endfor -%}
        {% for w in ['1d', '7d', '30d', '90d'] -%}
        transactions.txn_std_{{ w }},
        {% endfor -%}
        transactions.night_share_30d,
        cast(coalesce(transactions.distinct_merchants_30d, 0) as {{ dbt.type_bigint() }}) as distinct_merchants_30d,
        cast(coalesce(transactions.distinct_categories_30d, 0) as {{ dbt.type_bigint() }}) as distinct_categories_30d,
        transactions.cross_border_share_30d
    from spine
    left join customers on spine.customer_id = customers.customer_id
    left join bureau on spine.customer_id = bureau.customer_id
    left join applications on spine.customer_id = applications.customer_id
    left join repayments on spine.customer_id = repayments.customer_id
    left join transactions on spine.customer_id = transactions.customer_id
)

select * from final
