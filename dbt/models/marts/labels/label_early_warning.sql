{{ config(sort_by='loan_id') }}
{#- early-warning label per loan known at T (the loans of loan_early_warning_daily), parameters from
    the early_warning definition of src/riskpipe/models/labels.yml (vars early_warning_*): 1 when the
    loan is early_warning_bad_dpd+ days past due on some day in (T, T + early_warning_performance_days],
    i.e. an installment with due_date + bad_dpd <= that day is still unpaid then. label_known_at: the
    first such day (positives), the window's end (negatives). Loans whose window the lake does not
    cover yet are left out, positives included (labels exist only once matured, as for label_fraud).
    Unresolved (label null, never trained on): not bad by the installments unpaid in silver, but one
    whose payment may be in quarantine (int_installments_tracked.payment_in_quarantine) would make it
    bad: the lake cannot tell whether it was paid. -#}
{%- set bad_dpd = label_var('early_warning_bad_dpd') -%}
{%- set window_days = label_var('early_warning_performance_days') %}
with loans as (
    select loan_id, customer_id from {{ ref('int_loans_status_as_of') }}
),

installments as (
    select * from {{ ref('int_installments_tracked') }}
),

horizon as (
    select repayments_horizon_ts as horizon_ts from {{ ref('int_lake_horizon') }}  -- outcomes from repayments
),

first_days as (
    select
        loan_id,
        paid_date,
        schedule_known_at,
        payment_in_quarantine,
        greatest(
            {{ dbt.dateadd('day', bad_dpd, 'due_date') }},
            {{ dbt.dateadd('day', 1, date_literal(feature_date())) }}
        ) as first_day_bad
    from installments
),

delinquent as (
    select
        loan_id,
        min(case when payment_in_quarantine then null
                 else greatest(cast(first_day_bad as {{ ts_type() }}), schedule_known_at) end) as delinquent_known_at,
        max(case when payment_in_quarantine then 1 else 0 end) as in_quarantine
    from first_days
    where first_day_bad <= {{ dbt.dateadd('day', window_days, date_literal(feature_date())) }}
      and (paid_date is null or paid_date >= first_day_bad)
    group by loan_id
),

labelled as (
    select
        loans.loan_id,
        loans.customer_id,
        {{ feature_ts() }} as feature_ts,
        case when {{ later(feature_ts(), window_days, 'day') }} > horizon.horizon_ts then null  -- not matured
             when delinquent.delinquent_known_at is not null
                  and delinquent.delinquent_known_at <= horizon.horizon_ts then 'bad'
             when delinquent.in_quarantine = 1 then 'unresolved'
             else 'good'
        end as label_status,
        case when delinquent.delinquent_known_at is not null
                  and delinquent.delinquent_known_at <= horizon.horizon_ts then delinquent.delinquent_known_at
             else {{ later(feature_ts(), window_days, 'day') }}
        end as label_known_at
    from loans
    cross join horizon
    left join delinquent on loans.loan_id = delinquent.loan_id
),

final as (
    select
        loan_id,
        customer_id,
        feature_ts,
        cast(case label_status when 'bad' then 1 when 'good' then 0 end as {{ dbt.type_int() }}) as label,
        label_status,
        cast(label_known_at as {{ ts_type() }}) as label_known_at
    from labelled
    where label_status is not null
)

select * from final
