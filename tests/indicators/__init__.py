"""Tests of the dbt indicator centre (dbt/) and its wrapper riskpipe.indicators."""
