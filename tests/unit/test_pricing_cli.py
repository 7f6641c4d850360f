"""`meterline prices show/check`: clear output and clear errors, no tracebacks."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

from meterline.cli import cli

GOOD = """\
- provider: acme
  model: m1
  effective_from: 2025-01-01
  input: "1.5"
  output: "6"
  discount_percent: 10
"""


def test_check_accepts_a_good_file(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text(GOOD)
    result = CliRunner().invoke(cli, ["prices", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 prices OK" in result.output


def test_check_names_line_and_field_of_a_bad_file(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text(GOOD.replace('output: "6"', 'output: "six"'))
    result = CliRunner().invoke(cli, ["prices", "check", str(path)])
    assert result.exit_code == 1
    assert "prices.yaml:5: prices[0].output" in result.output
    assert "Traceback" not in result.output


def test_show_uses_the_file_from_its_date(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text(GOOD)
    runner = CliRunner()
    result = runner.invoke(cli, ["prices", "show", "m1", "--file", str(path), "--at", "2025-02-01"])
    assert result.exit_code == 0, result.output
    assert re.search(r"file:prices\.yaml#sha256=[0-9a-f]{12}:acme/m1@2025-01-01", result.output)
    assert "discount     10 % off the rates above" in result.output
    before = runner.invoke(
        cli,
        ["prices", "show", "m1", "--provider", "acme", "--file", str(path), "--at", "2024-12-31"],
    )
    assert before.exit_code == 1 and "unpriced" in before.output


def test_show_defaults_to_genai_prices():
    result = CliRunner().invoke(cli, ["prices", "show", "gpt-4o", "--at", "2025-01-01"])
    assert result.exit_code == 0, result.output
    assert f"genai-prices=={version('genai-prices')}:openai/gpt-4o" in result.output


def test_bad_date_is_a_usage_error():
    result = CliRunner().invoke(cli, ["prices", "show", "gpt-4o", "--at", "yesterday"])
    assert result.exit_code == 2 and "ISO date" in result.output


def test_stream_run_refuses_a_bad_price_file_before_starting(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text("- provider: acme\n")
    result = CliRunner().invoke(cli, ["stream", "run"], env={"METERLINE_PRICE_FILE": str(path)})
    assert result.exit_code == 1
    assert "prices.yaml:1: prices[0].model" in result.output


def test_check_reports_every_bad_entry_not_just_the_first(tmp_path: Path):
    path = tmp_path / "prices.yaml"
    path.write_text(
        GOOD.replace('output: "6"', 'output: "six"')
        + GOOD.replace("model: m1", "model: m2").replace('input: "1.5"', 'input: "-1"')
        + GOOD.replace("model: m1", "model: m3")
    )
    result = CliRunner().invoke(cli, ["prices", "check", str(path)])
    assert result.exit_code == 1
    assert "prices.yaml:5: prices[0].output" in result.output
    assert "prices[1].input" in result.output
    assert "ok  acme/m3" in result.output and "2 bad entries, 1 OK" in result.output


def test_show_suggests_the_name_meant_and_prints_units():
    result = CliRunner().invoke(cli, ["prices", "show", "claude-sonet-4-6"])
    assert result.exit_code == 1
    assert "did you mean claude-sonnet-4-6" in result.output
    result = CliRunner().invoke(cli, ["prices", "show", "gpt-4o", "--provider", "openai"])
    assert result.exit_code == 0, result.output
    assert "USD / 1M tokens" in result.output
