"""The row check itself: a valid row carries no reasons; a rejected row carries every reason, in the
declared order of its columns' rules."""

from __future__ import annotations


def test_check_gives_null_reasons_to_valid_rows_and_every_reason_in_order_to_rejected_ones(spark) -> None:
    from riskpipe.sources.config import get_sources
    from riskpipe.transforms.common import check

    cfg = get_sources()
    spec = cfg["transactions"]
    schema = ("txn_id string, cust_no long, card_number string, ts_ms long, amount_minor long, currency string, "
              "merchant_id string, merchant_category string, merchant_country string, channel string, "
              "device_id string, _source_file string, _source_row long, _raw string, _malformed string")
    good = ["T1", 7, "4000000000000002", 1_767_225_600_000, 1250, " eur ", "M1", "5411", "de", "POS", None]
    rows = [
        (*good, "f", 1, None, None),
        # blank merchant_id, a channel outside the allowed values, an amount below the range
        ("T2", 7, "4000000000000002", 1_767_225_600_000, 0, "EUR", "  ", "5411", "DE", "fax", None, "f", 2, None, None),
        # an unknown currency and the reader's own reason for the record
        ("T3", 7, "4000000000000002", 1_767_225_600_000, 1250, "JPY", "M1", "5411", "DE", "pos", None, "f", 3, None,
         "malformed_record"),
    ]
    out = {r["_source_row"]: r for r in check(spark.createDataFrame(rows, schema), spec, cfg).collect()}
    assert out[1]["_reasons"] is None
    assert (out[1]["p_currency"], out[1]["p_channel"], out[1]["p_merchant_country"]) == ("EUR", "pos", "DE")
    assert out[2]["_reasons"] == ["out_of_range:amount_minor", "null_required:merchant_id", "not_allowed:channel"]
    # an unknown currency: its amount has no rate, and it is not allowed (said once, though two rules see it)
    assert out[3]["_reasons"] == ["malformed_record", "unparseable:amount_minor", "not_allowed:currency"]
