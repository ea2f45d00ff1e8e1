"""Tests of the model registry, config validation and the size/shape contract."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from surrogates import ModelError
from surrogates.models import (
    SurrogateModel,
    available,
    build,
    config_defaults,
    receptive_radius,
    register,
    vnet_geometry,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_builtin_models_are_registered():
    assert {"vnet", "unet", "fno"} <= set(available())
    assert available() == sorted(available())


def test_unknown_model_lists_available():
    with pytest.raises(ModelError, match=r"unknown model 'resnet'; available models: \['fno'"):
        build("resnet", 1, 1)


def test_unknown_config_key_lists_allowed_keys_with_defaults():
    with pytest.raises(
        ModelError,
        match=r"model 'vnet': unknown config key\(s\) \['widht'\]; allowed: width=16, levels=2",
    ):
        build("vnet", 1, 1, widht=8)


@pytest.mark.parametrize(
    "name,config,match",
    [
        ("vnet", {"width": 0}, r"width: got 0, expected an int >= 1"),
        ("vnet", {"levels": -1}, r"levels: got -1, expected an int >= 0"),
        ("vnet", {"blocks": 1.5}, r"blocks: got 1.5, expected an int >= 1"),
        ("vnet", {"residual": "yes"}, r"residual: got 'yes', expected one of \[False, True\]"),
        ("vnet", {"norm": "group"}, r"norm: got 'group', expected one of \['none', 'batch'\]"),
        ("unet", {"padding_mode": "wrap"}, r"padding_mode: got 'wrap', expected one of"),
        ("unet", {"activation": "swish"}, r"activation: got 'swish', expected one of"),
        ("fno", {"padding": 1.5}, r"padding: got fraction 1.5, expected a float in \(0, 1\)"),
        ("fno", {"padding": -2}, r"padding: got -2, expected cells"),
        ("fno", {"modes": [4, 4, 4, 4]}, r"modes: got \[4, 4, 4, 4\], expected 1 or 3 \(ndim\)"),
        ("fno", {"rank": 4}, r"rank: got 4, but factorization 'dense' takes no rank"),
        ("fno", {"factorization": "cp"}, r"rank: got None, expected a positive int"),
        ("fno", {"halo": -1}, r"halo: got -1, expected an int >= 0"),
    ],
)
def test_invalid_config_values_raise(name, config, match):
    with pytest.raises(ModelError, match=match):
        build(name, 1, 1, **config)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"in_channels": 0}, r"in_channels: got 0, expected an int >= 1"),
        ({"n_params": -1}, r"n_params: got -1, expected an int >= 0"),
        ({"ndim": 4}, r"ndim: got 4, expected 1, 2 or 3"),
    ],
)
def test_invalid_model_arguments_raise(kwargs, match):
    args = {"in_channels": 1, "out_channels": 1, **kwargs}
    with pytest.raises(ModelError, match=match):
        build("fno", **args)


def test_vnet_residual_needs_enough_input_channels():
    with pytest.raises(ModelError, match=r"out_channels <= in_channels; got 3 > 2"):
        build("vnet", 2, 3, residual=True)


def test_config_defaults_and_spec_are_json():
    for name in available():
        defaults = config_defaults(name)
        assert "activation" in defaults and "embed_dim" in defaults
        model = build(name, 2, 1, n_params=1, ndim=2)
        spec = json.loads(json.dumps(model.spec))
        assert spec == {
            "name": name,
            "in_channels": 2,
            "out_channels": 1,
            "n_params": 1,
            "ndim": 2,
            **defaults,
        }


def test_register_rejects_duplicates_and_non_models():
    with pytest.raises(ModelError, match=r"model name 'vnet' is already registered"):
        register("vnet")(type(build("vnet", 1, 1)))
    with pytest.raises(ModelError, match=r"is not a SurrogateModel subclass"):
        register("not-a-model")(dict)

    class NoConfig(SurrogateModel):
        pass

    with pytest.raises(ModelError, match=r"NoConfig has no dataclass Config"):
        register("no-config")(NoConfig)
    assert "no-config" not in available()


def test_register_adds_a_buildable_model(monkeypatch):
    from surrogates.models import registry

    @dataclasses.dataclass(frozen=True)
    class PointwiseConfig:
        activation: str = "gelu"
        embed_dim: int = 4

    class Pointwise(SurrogateModel):
        Config = PointwiseConfig
        halo, alignment = 0, 1

        def __init__(self, in_channels, out_channels, n_params, ndim, config):
            super().__init__(in_channels, out_channels, n_params, ndim, config)
            self.linear = torch.nn.Linear(in_channels, out_channels)

        def output_size(self, input_size):
            return input_size

        def forward(self, x, params=None):
            self._prepare(x, params)
            return self.linear(x.movedim(1, -1)).movedim(-1, 1)

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register("pointwise")(Pointwise)
    assert "pointwise" in available()
    model = build("pointwise", 2, 3, ndim=2, embed_dim=2)
    assert model.spec["name"] == "pointwise"
    assert model(torch.zeros(1, 2, 4, 4)).shape == (1, 3, 4, 4)


@pytest.mark.parametrize("name", ["vnet", "unet", "fno"])
def test_forward_rejects_bad_inputs(name):
    model = build(name, 2, 1, n_params=1, ndim=2, width=4, embed_dim=4)
    n = model.input_size(4 * model.alignment)
    x, p = torch.zeros(2, 2, n, n), torch.zeros(2, 1)
    with pytest.raises(ModelError, match=rf"{name}: input has shape \(2, 3, {n}, {n}\), expected"):
        model(torch.zeros(2, 3, n, n), p)
    with pytest.raises(ModelError, match=r"expected \(batch, 2, n, n\)"):
        model(torch.zeros(2, 2, n, n, n), p)
    with pytest.raises(ModelError, match=r"params: got shape None, expected \(2, 1\)"):
        model(x)
    with pytest.raises(ModelError, match=r"params: got shape \(2, 3\), expected \(2, 1\)"):
        model(x, torch.zeros(2, 3))
    unconditioned = build(name, 2, 1, ndim=2, width=4)
    with pytest.raises(ModelError, match=r"unconditioned \(n_params=0\) but params of shape"):
        unconditioned(x, p)


def test_vnet_sizes():
    model = build("vnet", 1, 1, ndim=2, width=2, levels=2, blocks=1)
    assert (model.halo, model.alignment) == (20, 4)
    assert model.output_size(48) == 8 and model.input_size(8) == 48
    for bad in (46, 44 - 4, 50):
        with pytest.raises(
            ModelError, match=rf"takes input sizes 2\*halo \+ k\*4 = 40 \+ k\*4.*{bad}"
        ):
            model.output_size(bad)
    with pytest.raises(ModelError, match=r"output sizes that are positive multiples of 4; got 6"):
        model.input_size(6)
    with pytest.raises(ModelError, match=r"vnet: input spatial axis 1: vnet\(width=2.*got 50"):
        model(torch.zeros(1, 1, 48, 50))


@pytest.mark.parametrize("levels", [0, 1, 2, 3])
@pytest.mark.parametrize("blocks", [1, 2])
def test_vnet_every_multiple_of_alignment_is_an_output_size(levels, blocks):
    # halo = C 2^L + sum_l (2C + e_l) 2^l with C = 2 blocks and e_l the decoder's extra crop
    # (0 unless levels >= 3); the forward pass must produce exactly output_size(n).
    model = build("vnet", 1, 1, ndim=1, width=1, growth=1, levels=levels, blocks=blocks)
    halo, extra = vnet_geometry(levels, 2 * blocks)
    assert model.halo == halo and model.alignment == 2**levels
    assert extra == ([2, 0, 0] if (levels, blocks) == (3, 1) else [0] * levels)
    for k in (1, 2, 3):
        m = k * 2**levels
        assert model(torch.zeros(1, 1, model.input_size(m))).shape == (1, 1, m)


def test_unet_sizes():
    model = build("unet", 1, 1, ndim=2, width=2, levels=2, padding_mode="reflect")
    assert model.alignment == 4 and model.halo == receptive_radius(2, 2)
    assert model.output_size(16) == 16 == model.input_size(16)
    with pytest.raises(ModelError, match=r"multiples of 4 and >= 8; got 4"):
        model.output_size(4)
    with pytest.raises(ModelError, match=r"multiples of 4 and >= 8; got 10"):
        model.input_size(10)
    assert build("unet", 1, 1, levels=2).output_size(4) == 4  # circular: one coarse cell is fine


def test_fno_sizes():
    model = build("fno", 1, 1, ndim=2, width=2, halo=5)
    assert (model.halo, model.alignment, model.exact_tiling) == (5, 1, False)
    assert model.output_size(7) == 7 == model.input_size(7)
    with pytest.raises(ModelError, match=r"fno takes any positive size; got 0"):
        model.output_size(0)
    assert model.pad_cells((10, 10)) == [0, 0]
    padded = build("fno", 1, 1, ndim=2, width=2, padding=[0.25, 3])
    assert padded.pad_cells((10, 8)) == [3, 3]  # ceil(0.25 * 10) cells on axis 0, 3 on axis 1
    assert padded(torch.zeros(1, 1, 10, 8)).shape == (1, 1, 10, 8)


def test_exact_tiling_flags():
    flags = [build(n, 1, 1, ndim=2, width=2).exact_tiling for n in ("vnet", "unet", "fno")]
    assert flags == [True, False, False]


def test_sizes_accept_numpy_integers_and_reject_non_integers():
    import numpy as np

    for name in ("vnet", "unet", "fno"):
        model = build(name, 1, 1, ndim=2, width=2)
        m = 2 * model.alignment
        assert model.output_size(np.int64(model.input_size(m))) == m
        assert type(model.input_size(np.int64(m))) is int
        with pytest.raises(ModelError, match=r"size: got 8.5, expected an integer number of cells"):
            model.output_size(8.5)


def test_optional_models_are_registered_but_listed_only_where_installed(monkeypatch):
    from surrogates.models import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_REQUIRES", dict(registry._REQUIRES))
    cls = type(build("fno", 1, 1, ndim=2, width=2))
    for name, package in [("peer_missing", "no_such_package_xyz"), ("peer_here", "numpy")]:
        register(name, requires=(package,))(type(name, (cls,), {}))
    assert not {"peer_missing", "peer_here"} & set(available())  # our own models only
    optional = available(optional=True)
    assert "peer_here" in optional and "peer_missing" not in optional
    assert optional == sorted(optional) and set(available()) <= set(optional)
    assert config_defaults("peer_missing") == config_defaults("fno")  # still registered
    assert build("peer_here", 1, 1, ndim=2, width=2).spec["name"] == "peer_here"
