"""The learned exposure: the fit, the shipped file, and that ``auto`` uses it only where it was shipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.exposure import fit, fit_and_score, stops
from worker.exposure import EXPOSURE_FILE, ExposureModel, auto_ratio, learned_exposure, meter_ratio
from worker.frames import SrgbFrame, linear_to_srgb


def test_the_fit_recovers_a_linear_rule_and_weights_what_it_is_told() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 10))
    truth = rng.normal(size=10)
    model = fit(features, features @ truth + 3.0, np.ones(400), ridge=0.0)
    np.testing.assert_allclose(model.weights, truth, atol=1e-9)
    assert model.bias == pytest.approx(3.0)
    targets = np.r_[np.zeros(200), np.ones(200)]  # two groups that disagree: the heavier one wins
    leaning = fit(np.zeros((400, 10)), targets, np.r_[np.full(200, 9.0), np.ones(200)])
    assert leaning.bias == pytest.approx(0.1)


def test_errors_are_in_stops_within_the_apis_range() -> None:
    result = stops(np.array([2.0, 8.0, 1000.0]), np.log2(np.array([1.0, 8.0, 300.0])))
    assert result["mean"] == pytest.approx(1 / 3, abs=1e-3) and result["p90"] == pytest.approx(0.8, abs=1e-3)


def test_fitting_on_photos_scores_the_model_against_the_meter_and_ships_only_winners(data: Path) -> None:
    result = fit_and_score(data, draws=2)
    validation = result["validation"]
    assert isinstance(validation, dict) and {"srgb", "raw", "srgb real pairs"} <= set(validation)
    for kind, model in result["models"].items():
        assert validation[kind]["learned_stops"]["mean"] < validation[kind]["meter_stops"]["mean"]
        assert len(model["weights"]) == 10


def test_the_shipped_exposure_beat_the_meter_on_held_out_real_pairs() -> None:
    shipped = json.loads(EXPOSURE_FILE.read_text())
    real = shipped["validation"]["srgb real pairs"]
    assert real["count"] >= 10 and real["learned_stops"]["mean"] < real["meter_stops"]["mean"]
    assert set(learned_exposure()) == set(shipped["models"]) == {"srgb", "raw"}


def test_auto_uses_the_learned_model_for_its_kind_and_the_meter_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    scene = np.linspace(0, 1, 64 * 64 * 3, dtype=np.float32).reshape(64, 64, 3) / 40
    frame = SrgbFrame(linear_to_srgb(scene))
    always_four = ExposureModel(weights=np.zeros(10), bias=2.0)
    monkeypatch.setattr("worker.exposure.learned_exposure", lambda: {"srgb": always_four})
    assert auto_ratio(frame) == pytest.approx(4.0)
    monkeypatch.setattr("worker.exposure.learned_exposure", lambda: {})
    assert auto_ratio(frame) == meter_ratio(frame)
