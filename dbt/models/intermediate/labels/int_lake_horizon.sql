{#- how far the lake's knowledge reaches: the latest known_at of the daily feeds that outcomes are
    read from. A label whose observation window ends after this is not yet known (left out).
    A landing day of one of these feeds that was staged but not published (its quality gate blocked
    it, or its run stopped before publishing) is a hole in that knowledge: the outcomes it holds are
    unknown, and a window covering it would read "no chargeback / payment" as good. riskpipe passes
    the earliest such day as the var lake_unpublished_from (riskpipe.indicators.build, from the
    lake's pending runs); the horizon then stops at its start (rows landed on day D are known by
    D + 1 00:00, so everything landed before D is known by D 00:00). -#}
{%- set unpublished_from = var('lake_unpublished_from', none) %}
with known as (
    select max(known_at) as known_at from {{ ref('stg_repayments__repayment_records') }}
    union all
    select max(known_at) as known_at from {{ ref('stg_transactions__transactions') }}
    union all
    select max(known_at) as known_at from {{ ref('stg_chargebacks__chargebacks') }}
),

final as (
    {%- if unpublished_from %}
    select least(max(known_at), {{ ts_literal(unpublished_from ~ ' 00:00:00') }}) as horizon_ts from known
    {%- else %}
    select max(known_at) as horizon_ts from known
    {%- endif %}
)

select * from final
