import pyarrow.parquet as pq
import pytest

from arxiv2lm.io import read_json
from arxiv2lm.ledger import Drop, Ledger


def test_ledger_counts_and_writes(tmp_path) -> None:
    led = Ledger("extract")
    led.keep("2301.00001", 100, tokens=30)
    led.drop("2301.00002", "no_main_tex", 40, "only figures")
    led.drop("hep-th/9901001", "no_main_tex", 60)
    led.drop("2301.00003", "timeout", 5)
    summary = led.write(tmp_path, extra={"workers": 2})
    assert summary["in"] == {"papers": 4, "bytes": 205}
    assert summary["kept"] == {"papers": 1, "bytes": 100, "tokens": 30}
    assert summary["dropped"]["no_main_tex"] == {"papers": 2, "bytes": 100}
    assert read_json(tmp_path / "stats.json") == summary
    table = pq.read_table(tmp_path / "rejected.parquet").to_pylist()
    assert [r["id"] for r in table] == ["2301.00002", "hep-th/9901001", "2301.00003"]
    assert table[0]["detail"] == "only figures"


def test_empty_ledger_writes_empty_rejected(tmp_path) -> None:
    Ledger("filter").write(tmp_path)
    assert pq.read_table(tmp_path / "rejected.parquet").num_rows == 0


@pytest.mark.parametrize("bad", ["Timeout", "no main", "", "1abc"])
def test_reasons_must_be_snake_case(bad: str) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        Drop(bad)
