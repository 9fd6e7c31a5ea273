{#- how far the lake's knowledge reaches: the latest known_at of the daily feeds that outcomes are
    read from. A label whose observation window ends after this is not yet known (left out). -#}
with known as (
    select max(known_at) as known_at from {{ ref('stg_repayments__repayment_records') }}
    union all
    select max(known_at) as known_at from {{ ref('stg_transactions__transactions') }}
    union all
    select max(known_at) as known_at from {{ ref('stg_chargebacks__chargebacks') }}
),

final as (
    select max(known_at) as horizon_ts from known
)

select * from final
