import math
from typing import Any

import numpy as np
import pytest

from dialer.pacing.distribution_spec import DistributionError, parse_distribution
from dialer.pacing.distributions import (
    Distribution,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Mixture,
    Uniform,
)
from dialer.pacing.samples import SampleBuffer

MIX = Mixture([(0.7, Uniform(6.0, 10.0)), (0.3, Exponential(40.0))])
ALL: list[Distribution] = [
    Fixed(12.0),
    Exponential(15.0),
    Uniform(6.0, 10.0),
    LogNormal(180.0, 0.8),
    Gamma(20.0, 0.5),
    MIX,
]


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_sample_mean_and_variance(dist: Distribution) -> None:
    rng = np.random.default_rng(1)
    x = dist.sample(rng, 200_000)
    assert x.shape == (200_000,)
    se = math.sqrt(dist.variance() / x.size)
    assert abs(x.mean() - dist.mean()) <= 5 * se + 1e-12
    assert x.var() == pytest.approx(dist.variance(), rel=0.05, abs=1e-12)
    assert np.all(x >= 0)


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_single_samples_are_floats_with_the_same_law(dist: Distribution) -> None:
    rng = np.random.default_rng(2)
    one = dist.sample(rng)
    assert isinstance(one, float)
    xs = np.array([dist.sample(rng) for _ in range(20_000)])
    se = math.sqrt(dist.variance() / xs.size)
    assert abs(xs.mean() - dist.mean()) <= 5 * se + 1e-12


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_cdf_sf_consistency_and_empirical_fit(dist: Distribution) -> None:
    x = np.linspace(-1.0, 4 * dist.mean() + 1.0, 101)
    cdf, sf = dist.cdf(x), dist.sf(x)
    assert cdf.shape == x.shape
    np.testing.assert_allclose(cdf + sf, 1.0, atol=1e-12)
    assert np.all(np.diff(cdf) >= -1e-15)
    assert cdf[0] == 0.0
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(dist.log_sf(x), np.log(sf), rtol=1e-9, atol=1e-12)
    sample = np.sort(dist.sample(np.random.default_rng(3), 50_000))
    empirical = np.searchsorted(sample, x, side="right") / sample.size
    assert np.max(np.abs(empirical - cdf)) < 0.01


def test_scalar_input_gives_zero_d_arrays() -> None:
    assert Exponential(10.0).cdf(10.0).shape == ()
    assert float(Exponential(10.0).sf(10.0)) == pytest.approx(math.exp(-1.0))


def test_fixed_is_a_right_continuous_step() -> None:
    f = Fixed(5.0)
    np.testing.assert_array_equal(f.cdf([4.999, 5.0, 6.0]), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(f.sf([4.999, 5.0]), [1.0, 0.0])


def test_lognormal_parameterisation() -> None:
    d = LogNormal(100.0, 0.5)
    assert d.sigma == pytest.approx(math.sqrt(math.log(1.25)))
    assert d.mu == pytest.approx(math.log(100.0) - 0.5 * math.log(1.25))
    back = LogNormal.from_mu_sigma(d.mu, d.sigma)
    assert back.mean() == pytest.approx(100.0)
    assert back.cv() == pytest.approx(0.5)
    x = d.sample(np.random.default_rng(4), 100_000)
    assert x.std() / x.mean() == pytest.approx(0.5, rel=0.03)


def test_gamma_parameterisation_and_deep_tail() -> None:
    g = Gamma(20.0, 0.5)
    assert g.shape == pytest.approx(4.0)
    assert g.scale == pytest.approx(5.0)
    # sf underflows to 0 here; log_sf must stay finite and keep decreasing.
    tail = g.log_sf(np.array([4000.0, 5000.0, 6000.0]))
    assert np.all(np.isfinite(tail))
    assert np.all(np.diff(tail) < 0)
    # Far tail slope of log S is -1/scale.
    assert (tail[2] - tail[1]) / 1000.0 == pytest.approx(-0.2, rel=0.01)


def test_mixture_mean_and_log_sf_beyond_bounded_component() -> None:
    assert MIX.mean() == pytest.approx(0.7 * 8.0 + 0.3 * 40.0)
    # Beyond the uniform's support only the exponential is left.
    assert float(MIX.log_sf(50.0)) == pytest.approx(math.log(0.3) - 50.0 / 40.0)
    only_fixed = Mixture([(0.5, Fixed(1.0)), (0.5, Fixed(2.0))])
    assert float(only_fixed.log_sf(3.0)) == -math.inf


def test_distributions_are_values() -> None:
    assert LogNormal(10.0, 1.0) == LogNormal(10.0, 1.0)
    assert hash(Gamma(3.0, 0.2)) == hash(Gamma(3.0, 0.2))
    assert Exponential(3.0) != Fixed(3.0)
    assert Mixture([(1.0, Fixed(1.0))]) == Mixture([(1.0, Fixed(1.0))])
    assert "LogNormal" in repr(LogNormal(10.0, 1.0))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Exponential(0.0), "mean must be > 0"),
        (lambda: Fixed(-1.0), "value must be >= 0"),
        (lambda: Uniform(5.0, 5.0), "high must be > low"),
        (lambda: LogNormal(10.0, math.inf), "cv must be finite"),
        (lambda: Mixture([]), "at least one component"),
        (lambda: Mixture([(0.5, Fixed(1.0))]), "sum to 0.5"),
        (lambda: Mixture([(-0.5, Fixed(1.0)), (1.5, Fixed(1.0))]), "must be > 0"),
    ],
)
def test_constructor_validation(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_sample_buffer_draws_in_blocks() -> None:
    dist = Exponential(15.0)
    buf = SampleBuffer(dist, np.random.default_rng(5), block=100)
    xs = [buf.next() for _ in range(250)]  # crosses two block boundaries
    assert all(isinstance(x, float) for x in xs)
    rng = np.random.default_rng(5)
    expected = np.concatenate([dist.sample(rng, 100) for _ in range(3)])[:250]
    np.testing.assert_array_equal(xs, expected)
    many = SampleBuffer(dist, np.random.default_rng(6))
    assert np.mean([many.next() for _ in range(50_000)]) == pytest.approx(15.0, rel=0.02)
    with pytest.raises(ValueError, match="block"):
        SampleBuffer(dist, np.random.default_rng(0), block=0)


def test_parse_simple_specs() -> None:
    assert parse_distribution({"dist": "exponential", "mean": 15}, "talk") == Exponential(15.0)
    assert parse_distribution({"dist": "fixed", "value": 0}, "wrap") == Fixed(0.0)
    assert parse_distribution({"dist": "LogNormal", "mean": 180, "cv": 0.8}) == LogNormal(
        180.0, 0.8
    )
    assert parse_distribution({"dist": "gamma", "mean": 20.0, "cv": 0.5}) == Gamma(20.0, 0.5)
    assert parse_distribution({"dist": "uniform", "low": 6, "high": 10}) == Uniform(6.0, 10.0)


def test_parse_mixture() -> None:
    spec = {
        "dist": "mixture",
        "components": [
            {"weight": 0.7, "dist": "uniform", "low": 6, "high": 10},
            {
                "weight": 0.3,
                "dist": "mixture",
                "components": [{"weight": 1, "dist": "fixed", "value": 2}],
            },
        ],
    }
    d = parse_distribution(spec, "ring")
    assert isinstance(d, Mixture)
    assert d.mean() == pytest.approx(0.7 * 8 + 0.3 * 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"dist": "weibull", "mean": 3}, "talk.dist: unknown distribution 'weibull'"),
        ({"mean": 3}, "talk.dist: missing required key"),
        ({"dist": "exponential"}, "talk.mean: missing required key"),
        ({"dist": "exponential", "mean": 3, "cv": 1}, "talk.cv: unknown key for dist exponential"),
        ({"dist": "exponential", "mean": -3}, "talk.mean: must be > 0"),
        ({"dist": "exponential", "mean": "15"}, "talk.mean: must be a number, got str"),
        ({"dist": "exponential", "mean": True}, "talk.mean: must be a number, got bool"),
        ({"dist": "lognormal", "mean": 3, "cv": math.nan}, "talk.cv: must be finite"),
        ({"dist": "uniform", "low": 9, "high": 3}, "talk.high: must be > low (9)"),
        ({"dist": "fixed", "value": -1}, "talk.value: must be >= 0"),
        ([1, 2], "talk: must be a mapping, got list"),
        ({"dist": "mixture", "components": []}, "talk.components: must be a non-empty list"),
        (
            {"dist": "mixture", "components": [{"weight": 0.5, "dist": "fixed", "value": 1}]},
            "talk.components: weights sum to 0.5, must sum to 1",
        ),
        (
            {
                "dist": "mixture",
                "components": [
                    {"weight": 0.5, "dist": "fixed", "value": 1},
                    {"weight": 0.5, "dist": "gamma", "mean": 0, "cv": 1},
                ],
            },
            "talk.components[1].mean: must be > 0",
        ),
        (
            {"dist": "mixture", "components": [{"dist": "fixed", "value": 1}]},
            "talk.components[0].weight: missing required key",
        ),
        (
            {"dist": "mixture", "components": [{"weight": 0, "dist": "fixed", "value": 1}]},
            "talk.components[0].weight: must be > 0",
        ),
    ],
)
def test_parse_errors_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(DistributionError) as info:
        parse_distribution(spec, "talk")
    assert str(info.value).startswith(message)
    assert info.value.path == message.split(":")[0]


def test_parse_tolerates_rounding_in_weights() -> None:
    spec = {
        "dist": "mixture",
        "components": [
            {"weight": 1 / 3, "dist": "fixed", "value": 1},
            {"weight": 1 / 3, "dist": "fixed", "value": 2},
            {"weight": 1 / 3 + 5e-7, "dist": "fixed", "value": 3},
        ],
    }
    d = parse_distribution(spec)
    assert isinstance(d, Mixture)
    assert d.weights.sum() == pytest.approx(1.0, abs=1e-15)
