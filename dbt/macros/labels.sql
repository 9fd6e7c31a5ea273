{#- A parameter of a label definition (src/riskpipe/models/labels.yml), passed as a dbt var by
    riskpipe (riskpipe.models.labels.dbt_vars). No default here: the file is the only source of
    the number, so a build without it stops naming the var instead of using a stale copy.
    A var set to null means the rule is not declared (e.g. no indeterminate exclusion). -#}
{% macro label_var(name) -%}
  {%- set v = var(name, '__unset__') -%}
  {%- if v == '__unset__' and execute -%}
    {{ exceptions.raise_compiler_error("label parameter var " ~ name ~ " is not set: it comes from "
        ~ "src/riskpipe/models/labels.yml; build through `riskpipe indicators` or pass "
        ~ "riskpipe.models.labels.dbt_vars() with --vars") }}
  {%- endif -%}
  {{- return(v) -}}
{%- endmacro %}
