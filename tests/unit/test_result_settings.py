"""A checkpoint keeps the settings its results were computed with; a restart under others is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming_platform import config
from streaming_platform.streaming.app import (
    RESULT_SETTINGS,
    STATE_FORMAT,
    ResultSettingsChanged,
    pin_result_settings,
)


def _settings(**env: str) -> config.Settings:
    return config.load(env=env, overrides={})


def test_the_first_start_pins_the_settings_and_a_restart_with_the_same_ones_goes_on(tmp_path: Path) -> None:
    pin_result_settings(tmp_path, _settings())
    assert "validation.max.amount" in (tmp_path / RESULT_SETTINGS).read_text()
    pin_result_settings(tmp_path, _settings(PLATFORM_SPARK_TRIGGER_INTERVAL="5 seconds"))  # not a result


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PLATFORM_VALIDATION_MAX_AMOUNT": "50"}, "validation.max.amount"),
        ({"PLATFORM_SPARK_WINDOW_DURATION": "5 minutes"}, "spark.window.duration"),
        ({"PLATFORM_SPARK_WATERMARK": "1 minute"}, "spark.watermark"),
    ],
)
def test_a_changed_result_setting_is_refused_naming_it(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    pin_result_settings(tmp_path, _settings())
    with pytest.raises(ResultSettingsChanged, match=name) as err:
        pin_result_settings(tmp_path, _settings(**env))
    assert "new checkpoint" in str(err.value)


def test_a_setting_new_to_the_checkpoint_is_adopted(tmp_path: Path) -> None:
    (tmp_path / RESULT_SETTINGS).write_text('{"spark.watermark": "10 minutes"}')
    pin_result_settings(tmp_path, _settings())
    assert "validation.max.quantity" in (tmp_path / RESULT_SETTINGS).read_text()


def test_a_checkpoint_of_another_state_format_is_refused_pointing_at_reprocess(tmp_path: Path) -> None:
    pin_result_settings(tmp_path, _settings())
    assert f'"state.format": "{STATE_FORMAT}"' in (tmp_path / RESULT_SETTINGS).read_text()
    (tmp_path / RESULT_SETTINGS).write_text('{"spark.watermark": "10 minutes"}')  # pinned before formats
    (tmp_path / "offsets").mkdir()
    (tmp_path / "offsets" / "0").write_text("v1")
    with pytest.raises(ResultSettingsChanged, match=r"state of format 1.*reprocess") as err:
        pin_result_settings(tmp_path, _settings())
    assert "\n" not in str(err.value)
