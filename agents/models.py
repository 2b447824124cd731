"""Named models: small configs that fill in an :class:`~agents.rnn.RNNConfig` (nanoGPT's config/).

========================  =====================  ===============================================
name                      constructor            recurrence
========================  =====================  ===============================================
``"lm-rnn"``              :func:`LMRNN`          locality mask on a 2-D sheet (or a 1-D ring)
``"dense"``               :func:`DenseRNN`       all-to-all
``"random-sparse"``       :func:`RandomSparseRNN`  Erdos-Renyi mask at the LM-RNN's density
``"autapse"``             :func:`AutapsePool`    each unit only onto itself ([N] vector)
========================  =====================  ===============================================

Every config round-trips through JSON: ``to_dict()`` (with a ``"model"`` key naming it),
``from_dict``, ``to_json``/``from_json``; :func:`config_from_dict` dispatches on ``"model"`` and
:func:`build_model` turns any of them (or such a dict) into a :class:`~agents.rnn.MaskedRNN`.
The built model keeps its small config as ``model.model_config``. The ``kernel`` field
(:mod:`agents.kernels`) is passed to the RNNConfig but is not part of ``to_dict``: it says how
the recurrence runs, not what the model is.

``RandomSparseRNN`` is the control for ``LMRNN``: with ``density=None`` it takes the exact density
of the locality mask given by its ``geometry``/``radius``/``periodic`` fields, so the two models
with the same fields have the same number of recurrent connections.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from . import masks
from .rnn import MaskedRNN, RNNConfig

GEOMETRIES = ("sheet", "ring")


@dataclass
class ModelConfig:
    """Fields shared by every named model (defaults: 20-cog at dim_ring 16)."""

    name: ClassVar[str] = ""
    input_size: int = 53  # observation channels (Batches.ob_size)
    output_size: int = 17  # actions (Batches.n_actions)
    hidden_size: int = 256  # recurrent units
    dt: float = 100.0  # ms per step, as the tasks
    tau: float = 100.0  # ms; alpha = dt / tau
    activation: str = "relu"
    noise_std: float = 0.0  # recurrent noise (training only)
    rec_gain: float = 1.0  # recurrent init gain (see MaskedRNN._init_weights)
    rec_init: str = "normal"  # "normal" | "orthogonal" (dense only; see MaskedRNN._init_weights)
    # execution only (agents.kernels), not identity: left out of to_dict, so a checkpoint's
    # model config is the same whichever kernel trained it
    kernel: str = "auto"

    def _common(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(ModelConfig)}

    def rnn_config(self) -> RNNConfig:
        raise NotImplementedError

    def to_dict(self) -> dict:
        """``{"model": name, **fields}`` without ``kernel`` (an execution choice)."""
        d = asdict(self)
        del d["kernel"]
        return {"model": self.name, **d}

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        name = d.pop("model", cls.name)
        if name != cls.name:
            raise ValueError(f"dict is for model {name!r}, not {cls.name!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))


@dataclass
class LMRNNConfig(ModelConfig):
    """Locality-masked RNN: ``radius`` (grid units; ring: integer k) or ``density``, not both."""

    name: ClassVar[str] = "lm-rnn"
    geometry: str = "sheet"  # "sheet" (sqrt(N) x sqrt(N) grid) or "ring"
    radius: float | None = 3.0  # connection radius; None when density is given
    density: float | None = None  # target density; the nearest achievable radius is used
    periodic: bool = True  # sheet: torus

    def mask_kwargs(self) -> dict:
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"geometry={self.geometry!r} is not one of {GEOMETRIES}")
        return dict(mask=self.geometry, radius=self.radius, density=self.density,
                    periodic=self.periodic)

    def rnn_config(self) -> RNNConfig:
        return RNNConfig(**self._common(), **self.mask_kwargs())

    def mask_density(self) -> float:
        """Exact density of the locality mask this config builds."""
        return masks.density(self.rnn_config().build_mask())


@dataclass
class DenseRNNConfig(ModelConfig):
    """All-to-all recurrence."""

    name: ClassVar[str] = "dense"

    def rnn_config(self) -> RNNConfig:
        return RNNConfig(**self._common(), mask="dense")


@dataclass
class RandomSparseConfig(ModelConfig):
    """Erdos-Renyi mask; ``density=None`` matches the LM-RNN mask of geometry/radius/periodic."""

    name: ClassVar[str] = "random-sparse"
    density: float | None = None  # explicit density, or None to match the LM-RNN below
    geometry: str = "sheet"  # LM-RNN matched when density is None
    radius: float | None = 3.0
    periodic: bool = True
    mask_seed: int = 0  # seed of the random draw

    def matched_density(self) -> float:
        if self.density is not None:
            return float(self.density)
        lm = LMRNNConfig(hidden_size=self.hidden_size, geometry=self.geometry,
                         radius=self.radius, periodic=self.periodic)
        return lm.mask_density()

    def rnn_config(self) -> RNNConfig:
        return RNNConfig(**self._common(), mask="random", density=self.matched_density(),
                         mask_seed=self.mask_seed)


@dataclass
class AutapsePoolConfig(ModelConfig):
    """Pool of autapses: unit i feeds back only onto itself; recurrence is an [N] vector."""

    name: ClassVar[str] = "autapse"
    # fan-in is 1, so gain 1 would give w_self ~ N(0, 1): a third of the units with |w| > 1
    # would explode over long windows (alpha = 1); 0.3 leaves ~0.05% of them above 1
    rec_gain: float = 0.3

    def rnn_config(self) -> RNNConfig:
        return RNNConfig(**self._common(), mask="autapse")


CONFIGS: dict[str, type[ModelConfig]] = {
    c.name: c for c in (LMRNNConfig, DenseRNNConfig, RandomSparseConfig, AutapsePoolConfig)
}
MODEL_NAMES = tuple(CONFIGS)


def model_config(name: str, **kwargs: object) -> ModelConfig:
    """The named model's config with ``kwargs`` overriding its defaults."""
    if name not in CONFIGS:
        raise ValueError(f"model={name!r} is not one of {MODEL_NAMES}")
    return CONFIGS[name](**kwargs)


def config_from_dict(d: dict) -> ModelConfig:
    """Inverse of ``ModelConfig.to_dict``: picks the class from ``d["model"]``."""
    if "model" not in d:
        raise ValueError("model config dict lacks the 'model' key naming the model")
    if d["model"] not in CONFIGS:
        raise ValueError(f"model={d['model']!r} is not one of {MODEL_NAMES}")
    return CONFIGS[d["model"]].from_dict(d)


def build_model(config: ModelConfig | dict, *, kernel: str | None = None) -> MaskedRNN:
    """A fresh MaskedRNN (weights from torch's global generator) for a named config or its dict.

    ``kernel`` (if given) replaces the config's recurrence kernel, e.g. when a checkpoint's model
    config (which never stores one) is rebuilt to resume with another kernel.
    """
    if isinstance(config, dict):
        config = config_from_dict(config)
    if kernel is not None:
        config = replace(config, kernel=kernel)
    model = MaskedRNN(config.rnn_config())
    model.model_config = config
    return model


def _named(cls: type[ModelConfig]):
    def constructor(config: ModelConfig | None = None, **kwargs: object) -> MaskedRNN:
        if config is not None and kwargs:
            raise ValueError("pass a config or keyword overrides, not both")
        if config is not None and not isinstance(config, cls):
            raise ValueError(f"expected a {cls.__name__}, got {type(config).__name__}")
        return build_model(config if config is not None else cls(**kwargs))

    constructor.__doc__ = f"MaskedRNN for a :class:`{cls.__name__}` (or its fields as keywords)."
    return constructor


LMRNN = _named(LMRNNConfig)
DenseRNN = _named(DenseRNNConfig)
RandomSparseRNN = _named(RandomSparseConfig)
AutapsePool = _named(AutapsePoolConfig)
