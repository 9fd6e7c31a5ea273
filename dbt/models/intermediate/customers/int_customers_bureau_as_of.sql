{#- the latest bureau report per customer known at T (as_of_date < T, known_at <= T) -#}
with reports as (
    select * from {{ ref('stg_bureau__reports') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id order by as_of_date desc, known_at desc, report_id desc
        ) as report_rank
    from reports
),

final as (
    select
        customer_id,
        bureau_score,
        open_accounts as bureau_open_accounts,
        total_balance as bureau_total_balance,
        delinquencies_24m as bureau_delinquencies_24m,
        inquiries_6m as bureau_inquiries_6m,
        oldest_account_months as bureau_oldest_account_months
    from ranked
    where report_rank = 1
)

select * from final
