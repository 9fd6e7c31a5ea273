def test_session_is_utc_and_local(spark) -> None:
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.master.startswith("local")
    assert spark.range(10).count() == 10
