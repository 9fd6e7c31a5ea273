{#- every customer known at T: from the master, or from a transaction, application or bureau report
    already known (so a customer whose master row was quarantined still gets a row) -#}
with customers as (
    select customer_id from {{ ref('int_customers_as_of') }}
),

transactions as (
    select customer_id from {{ ref('stg_transactions__transactions') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
),

applications as (
    select customer_id from {{ ref('stg_applications__applications') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
),

bureau as (
    select customer_id from {{ ref('stg_bureau__reports') }}
    where event_ts < {{ feature_ts() }} and known_at <= {{ feature_ts() }}
),

unioned as (
    select customer_id from customers
    union select customer_id from transactions
    union select customer_id from applications
    union select customer_id from bureau
),

final as (
    select distinct customer_id from unioned where customer_id is not null
)

select * from final
