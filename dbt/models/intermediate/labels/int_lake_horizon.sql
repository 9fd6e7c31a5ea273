{#- how far the lake's knowledge of outcomes reaches, one row. horizon_ts: the latest known_at of the
    daily feeds that outcomes are read from. A label whose observation window ends after its horizon
    is not yet known (left out).
    A landing day of an outcome feed that was staged but not published (its quality gate blocked it,
    or its run stopped before publishing) is a hole in that feed: the outcomes it holds are unknown,
    and a window covering it would read "no chargeback / payment" as good. riskpipe passes the
    earliest such day per feed as the var lake_unpublished_from ({feed: 'YYYY-MM-DD'}, from the lake's
    pending runs, riskpipe.indicators.build). <feed>_horizon_ts is horizon_ts stopped at the start of
    that day (rows landed on day D are known by D + 1 00:00, so everything landed before D is known by
    D 00:00); each label reads the horizon of the feed its outcomes come from (label_fraud:
    chargebacks; label_credit_pd, label_early_warning: repayments), so a hole in one feed holds back
    only the labels that read it. -#}
{%- set unpublished_from = var('lake_unpublished_from', none) or {} %}
with known as (
    select max(known_at) as known_at from {{ ref('stg_repayments__repayment_records') }}
    union all
    select max(known_at) as known_at from {{ ref('stg_transactions__transactions') }}
    union all
    select max(known_at) as known_at from {{ ref('stg_chargebacks__chargebacks') }}
),

lake as (
    select max(known_at) as horizon_ts from known
),

final as (
    select
        {%- for feed in ('repayments', 'chargebacks') %}
        {%- if unpublished_from.get(feed) %}
        least(horizon_ts, {{ ts_literal(unpublished_from[feed] ~ ' 00:00:00') }}) as {{ feed }}_horizon_ts,
        {%- else %}
        horizon_ts as {{ feed }}_horizon_ts,
        {%- endif %}
        {%- endfor %}
        horizon_ts
    from lake
)

select * from final
