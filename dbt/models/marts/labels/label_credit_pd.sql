{{ config(sort_by='application_id') }}
{#- credit_pd label per approved application of day D (feature_ts = applied_at), parameters from the
    credit_pd definition of src/riskpipe/models/labels.yml (vars credit_pd_*): bad (label 1) when an
    installment of its loan reaches credit_pd_bad_dpd days past due within credit_pd_performance_days
    of applied_at. An installment is n days past due on date due_date + n when still unpaid then (no
    payment before that date). Indeterminate (label null, excluded from training) when not bad but the
    worst delinquency in the window reached credit_pd_indeterminate_min_dpd (null: no such rule);
    otherwise good (0). Unresolved (label null, never trained on): neither bad nor indeterminate by the
    installments unpaid in silver, but one whose payment may be in quarantine
    (int_installments_tracked.payment_in_quarantine) would make it bad or indeterminate: the lake cannot
    tell whether it was paid. label_known_at: the day the bad threshold was reached (bad), applied_at + the
    window (good, indeterminate). A row exists only once its window closed within the lake horizon,
    bad ones included (an early default without the window's goods would bias any sample taken before
    maturity); rebuilding the partition later adds them (labels mature). -#}
{%- set bad_dpd = label_var('credit_pd_bad_dpd') -%}
{%- set window_days = label_var('credit_pd_performance_days') -%}
{%- set indeterminate_dpd = label_var('credit_pd_indeterminate_min_dpd') -%}
{%- set thresholds = {'defaults': bad_dpd} -%}
{%- if indeterminate_dpd is not none -%}{%- do thresholds.update({'delinquencies': indeterminate_dpd}) -%}{%- endif %}
with applications as (
    select * from {{ ref('int_loans_booked') }}
    where applied_at >= {{ feature_ts() }} and applied_at < {{ later(feature_ts(), 1, 'day') }}
),

installments as (
    select * from {{ ref('int_installments_tracked') }}
),

horizon as (
    select repayments_horizon_ts as horizon_ts from {{ ref('int_lake_horizon') }}  -- outcomes from repayments
),

schedule as (
    select
        installments.loan_id,
        installments.due_date,
        installments.schedule_known_at,
        installments.paid_date,
        installments.payment_in_quarantine,
        applications.applied_at
    from installments
    inner join applications on installments.loan_id = applications.loan_id
),
{% for cte, dpd in thresholds.items() %}
{{ cte }} as (  -- per loan: when reaching {{ dpd }} DPD within the window became known
    select
        loan_id,
        min(case when payment_in_quarantine then null else greatest(
            cast({{ dbt.dateadd('day', dpd, 'due_date') }} as {{ ts_type() }}), schedule_known_at) end) as known_at,
        max(case when payment_in_quarantine then 1 else 0 end) as in_quarantine
    from schedule
    where {{ dbt.dateadd('day', dpd, 'due_date') }} <= cast({{ later('applied_at', window_days, 'day') }} as date)
      and (paid_date is null or paid_date >= {{ dbt.dateadd('day', dpd, 'due_date') }})
    group by loan_id
),
{% endfor %}
labelled as (
    select
        applications.application_id,
        applications.customer_id,
        applications.requested_amount,
        applications.applied_at as feature_ts,
        case when {{ later('applications.applied_at', window_days, 'day') }} > horizon.horizon_ts then null  -- not matured
             when defaults.known_at <= horizon.horizon_ts then 'bad'
             {%- if indeterminate_dpd is not none %}
             when delinquencies.known_at <= horizon.horizon_ts then 'indeterminate'
             {%- endif %}
             {%- for cte in thresholds %}
             when {{ cte }}.in_quarantine = 1 then 'unresolved'
             {%- endfor %}
             else 'good'
        end as label_status,
        case when defaults.known_at <= horizon.horizon_ts then defaults.known_at
             else {{ later('applications.applied_at', window_days, 'day') }}
        end as label_known_at
    from applications
    cross join horizon
    left join defaults on applications.loan_id = defaults.loan_id
    {%- if indeterminate_dpd is not none %}
    left join delinquencies on applications.loan_id = delinquencies.loan_id
    {%- endif %}
),

final as (
    select
        application_id,
        customer_id,
        requested_amount,
        feature_ts,
        cast(case label_status when 'bad' then 1 when 'good' then 0 end as {{ dbt.type_int() }}) as label,
        label_status,
        cast(label_known_at as {{ ts_type() }}) as label_known_at
    from labelled
    where label_status is not null
)

select * from final
