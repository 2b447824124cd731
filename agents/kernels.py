"""Recurrence kernels behind :class:`~agents.rnn.MaskedRNN`: one function, several executions.

Every kernel computes the rates of the leaky recurrence (see :mod:`agents.rnn`) for a whole
sequence at once, from the input drive (input projection + bias + noise, already summed)::

    pre_t = drive_t + R(h_{t-1}),   r_t = f(pre_t),   h_t = (1 - alpha) h_{t-1} + alpha r_t

with ``drive`` float ``[T, B, N]``, ``h0`` ``[B, N]`` and ``R(h) = h @ W.T`` for a matrix ``W``
(``W[i, j]``: unit ``j`` -> unit ``i``) or ``R(h) = w * h`` for the autapse vector ``w``; it
returns ``states`` ``[T, B, N]`` (``h_1 .. h_T``). The kernels:

``"reference"``
    the per-step autograd loop (one graph node per step and op): the masked-dense reference the
    other kernels are tested against; kept for tests and benchmarks.
``"dense"``
    :class:`DenseRecurrence`, a whole-sequence ``torch.autograd.Function`` over the masked dense
    matrix: the forward loop writes into preallocated ``[T, B, N]`` buffers; the hand-written
    backward runs back-propagation through time in one loop (per step an elementwise product
    and one ``addmm`` with ``W``, writing ``delta_t`` into one preallocated buffer) and then
    forms the weight gradient
    ``sum_t delta_t^T h_{t-1}`` as one ``[N, T*B] x [T*B, N]`` product.
``"sparse"``
    :class:`SparseRecurrence`, the same loop in a unit-major layout ``[T, N, B]`` with ``W`` as a
    CSR matrix (``addmm(drive_t, W_csr, h_{t-1})``); the backward propagates errors through the
    CSR transpose and computes the recurrent-weight gradient only at the mask's nonzeros
    (``torch.sparse.sampled_addmm``, a sampled dense-dense product, accumulated in place one
    step at a time inside the backward loop, on contiguous ``[N, B]`` slices). Its parameter is
    the vector of the ``nnz`` values, gathered from the dense ``[N, N]`` weight, so the dense
    weight's gradient is exactly 0 off the mask. ``MaskedRNN`` feeds it through
    :func:`unit_major_linear` (input projection and readout as per-step products in the same
    layout), so no hidden-sized tensor is transposed.
``"auto"``
    :func:`choose_kernel`: dense or sparse by N, density and device, from the crossovers in
    :data:`SPARSE_MAX_DENSITY` measured with ``benchmarks/bench_kernels.py``.

The autapse pool (diagonal recurrence) runs :class:`DiagonalRecurrence` (the whole-sequence
treatment with elementwise products) for every kernel except ``"reference"``.

Derivatives come from the saved activation outputs ``r = f(pre)``: relu ``r > 0``, tanh
``1 - r**2``, sigmoid ``r (1 - r)``, softplus ``1 - exp(-r)`` (= sigmoid(pre)). The kernels do
not support double backward. Measured choices (CPU, 1 thread, docs/performance.md): CSR
``addmm`` was 5x faster per step than COO ``torch.sparse.mm`` and 17x faster than a gathered
``index_add_`` formulation at N=1024, 5% density.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import nn

KERNELS = ("auto", "dense", "sparse", "reference")
ACTIVATIONS = ("relu", "tanh", "softplus", "sigmoid")

# ``auto`` on CPU: the sparse kernel when density <= SPARSE_MAX_DENSITY[n] (N interpolated
# linearly in log N between the measured sizes, clamped at the ends; 0 means never). Measured
# with
#   nice -n 5 python benchmarks/bench_kernels.py --sections k1 --sizes 64,256,1024,4096 \
#       --densities 0.02,0.05,0.1,0.2,0.3,0.5 --big-repeats 2
# (K1 table: 1 torch thread, B=64, L=50, relu, sheet masks; AMD EPYC, 2 cores, load average
# ~1.4 from one other job; docs/performance.md "Recurrence kernels", crossover run). Each
# threshold is where the time ratio sparse / dense kernel crosses 1, interpolated linearly
# between the last measured density at which sparse won and the first at which it lost:
# N=64: sparse lost at every density (1.6-45%: 1.9-2.3x the dense kernel's time: per-step
# overhead of the CSR calls); N=256: won at 9.8% (0.96x), lost at 19.1% (1.24x) -> 11%;
# N=1024: won at 19.2% (0.77x), lost at 29.8% (1.11x) -> 26%; N=4096: won at 30.0% (0.95x),
# lost at 50.1% (1.79x) -> 31%. Near a crossover both kernels are within ~10% of each other,
# so either choice keeps ``auto`` within 1.1x of the best there.
SPARSE_MAX_DENSITY: dict[int, float] = {64: 0.0, 256: 0.11, 1024: 0.26, 4096: 0.31}

_ACT_FUNCS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "softplus": nn.functional.softplus,
    "sigmoid": torch.sigmoid,
}


def _act_inplace(x: torch.Tensor, activation: str) -> None:
    if activation == "relu":
        x.relu_()
    elif activation == "tanh":
        x.tanh_()
    elif activation == "sigmoid":
        x.sigmoid_()
    else:
        x.copy_(nn.functional.softplus(x))


def derivative(r: torch.Tensor, activation: str) -> torch.Tensor:
    """``f'(pre)`` from the activation output ``r = f(pre)`` (a new tensor, same shape)."""
    if activation == "relu":
        return (r > 0).to(r.dtype)
    if activation == "tanh":
        return 1.0 - r * r
    if activation == "sigmoid":
        return r * (1.0 - r)
    if activation == "softplus":
        return -torch.expm1(-r)
    raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")


# ------------------------------------------------------------------------------ reference
def reference_recurrence(
    drive: torch.Tensor, h0: torch.Tensor, w: torch.Tensor, alpha: float, activation: str
) -> torch.Tensor:
    """The per-step autograd loop: ``states`` [T, B, N] from drive [T, B, N], h0 [B, N].

    ``w`` is the effective recurrent matrix [N, N] (mask applied) or the autapse vector [N].
    """
    act = _ACT_FUNCS[activation]
    diagonal = w.dim() == 1
    w_t = w if diagonal else w.T
    h, hidden = h0, []
    # unbind once: indexing drive[t] per step would make backward write a full [T, B, N]
    # zero gradient per step (quadratic in T)
    for d in drive.unbind(0):
        pre = torch.addcmul(d, h, w_t) if diagonal else torch.addmm(d, h, w_t)
        r = act(pre)
        h = torch.lerp(h, r, alpha) if alpha < 1.0 else r  # (1 - alpha) h + alpha r
        hidden.append(h)
    return torch.stack(hidden) if hidden else drive.new_zeros(drive.shape)


# ------------------------------------------------------------------------------ shared loops
Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]  # (out, drive_t, h) in place
# (acc, delta_t, out): out = acc + R^T(delta_t); acc may be out itself
Back = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


def _forward_loop(
    drive: torch.Tensor, h0: torch.Tensor, step: Step, alpha: float, activation: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the recurrence into preallocated buffers; returns (r, h), both [T, ...] (same
    tensor when alpha == 1)."""
    leaky = alpha < 1.0
    r_all = torch.empty_like(drive)
    h_all = torch.empty_like(drive) if leaky else r_all
    h = h0
    for t in range(drive.shape[0]):
        r = r_all[t]
        step(r, drive[t], h)  # r = drive_t + R(h)
        _act_inplace(r, activation)
        if leaky:
            torch.lerp(h, r, alpha, out=h_all[t])
        h = h_all[t]
    return r_all, h_all


def _delta_step(g: torch.Tensor, r: torch.Tensor, alpha: float, activation: str,
                out: torch.Tensor) -> None:
    """``out = alpha * f'(pre) * g`` for one step, from the activation output ``r``.

    relu, tanh and sigmoid use aten's fused backward ops that take the output (one pass, e.g.
    3.5x faster than ``g * (r > 0)`` per [1024, 64] step); softplus the product with
    :func:`derivative`.
    """
    aten = torch.ops.aten
    if activation == "relu":
        aten.threshold_backward.grad_input(g, r, 0, grad_input=out)
    elif activation == "tanh":
        aten.tanh_backward.grad_input(g, r, grad_input=out)
    elif activation == "sigmoid":
        aten.sigmoid_backward.grad_input(g, r, grad_input=out)
    else:
        torch.mul(g, derivative(r, activation), out=out)
    if alpha != 1.0:
        out.mul_(alpha)


def _backward_loop(
    grad_h: torch.Tensor, r_all: torch.Tensor, back: Back, alpha: float, activation: str,
    need_h0: bool, on_delta: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """BPTT: ``delta_t = dL/dpre_t`` for every step ([T, ...], a new contiguous buffer) and
    ``dL/dh0`` (None unless ``need_h0``).

    ``grad_h`` (dL/dh_t from the outputs, [T, ...], any strides) is only read. ``on_delta(t,
    delta_t)``, if given, is called once per step (t descending) as soon as ``delta_t`` is
    known, while it is still in cache (the sparse kernel accumulates its weight gradient there).
    """
    n_steps = grad_h.shape[0]
    delta = torch.empty(r_all.shape, dtype=r_all.dtype, device=r_all.device)
    # dL/dh_{t-1} is written into one of two step-sized buffers, alternately, so the loop
    # allocates nothing per step
    bufs = (torch.empty_like(delta[0]), torch.empty_like(delta[0]))
    g = grad_h[n_steps - 1]  # dL/dh_t, the total (from the outputs and from step t + 1)
    for t in range(n_steps - 1, -1, -1):
        d = delta[t]
        _delta_step(g, r_all[t], alpha, activation, d)
        if on_delta is not None:
            on_delta(t, d)
        if t == 0 and not need_h0:
            return delta, None
        out = bufs[t % 2]  # not the buffer that holds g
        if t > 0:
            acc = grad_h[t - 1]
            if alpha != 1.0:
                acc = torch.add(acc, g, alpha=1 - alpha, out=out)
        else:
            acc = torch.mul(g, 1 - alpha, out=out) if alpha != 1.0 else out.zero_()
        back(acc, d, out)
        g = out
    return delta, g


def _prev_states(h_all: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(h_0, h_1..h_{T-1}): the states each step reads."""
    return h0, h_all[:-1]


def _save_states(ctx, h0, w, r_all, h_all, alpha: float, activation: str) -> None:
    """What a whole-sequence backward needs: rates, and states only when they differ from the
    rates (alpha < 1); the weight ``w`` and ``h0`` by reference."""
    ctx.alpha, ctx.activation = alpha, activation
    ctx.save_for_backward(h0, w, r_all, h_all if alpha < 1.0 else None)


def _saved_states(ctx) -> tuple[torch.Tensor, ...]:
    """(h0, w, r_all, h_all) saved by :func:`_save_states` (h_all is r_all when alpha = 1)."""
    h0, w, r_all, h_all = ctx.saved_tensors
    return h0, w, r_all, r_all if h_all is None else h_all


# ------------------------------------------------------------------------------ dense
class DenseRecurrence(torch.autograd.Function):
    """Whole-sequence masked-dense recurrence: ``apply(drive, h0, w, alpha, activation)``.

    drive [T, B, N], h0 [B, N], w [N, N] (effective weights); returns states [T, B, N].
    """

    @staticmethod
    def forward(ctx, drive, h0, w, alpha, activation):  # noqa: D102
        w_t = w.T
        r_all, h_all = _forward_loop(
            drive, h0, lambda out, d, h: torch.addmm(d, h, w_t, out=out), alpha, activation
        )
        _save_states(ctx, h0, w, r_all, h_all, alpha, activation)
        return h_all

    @staticmethod
    def backward(ctx, grad_states):  # noqa: D102
        h0, w, r_all, h_all = _saved_states(ctx)
        alpha = ctx.alpha
        delta, grad_h0 = _backward_loop(
            grad_states, r_all, lambda acc, d, out: torch.addmm(acc, d, w, out=out), alpha,
            ctx.activation, ctx.needs_input_grad[1],
        )
        grad_w = None
        if ctx.needs_input_grad[2]:
            n = w.shape[0]
            first, rest = _prev_states(h_all, h0)
            grad_w = delta[0].T @ first
            if delta.shape[0] > 1:  # one [N, (T-1)B] x [(T-1)B, N] product for the rest
                grad_w.addmm_(delta[1:].reshape(-1, n).T, rest.reshape(-1, n))
        return delta, grad_h0, grad_w, None, None


# ------------------------------------------------------------------------------ diagonal
class DiagonalRecurrence(torch.autograd.Function):
    """Whole-sequence autapse recurrence: ``apply(drive, h0, w, alpha, activation)``, w [N]."""

    @staticmethod
    def forward(ctx, drive, h0, w, alpha, activation):  # noqa: D102
        r_all, h_all = _forward_loop(
            drive, h0, lambda out, d, h: torch.addcmul(d, h, w, out=out), alpha, activation
        )
        _save_states(ctx, h0, w, r_all, h_all, alpha, activation)
        return h_all

    @staticmethod
    def backward(ctx, grad_states):  # noqa: D102
        h0, w, r_all, h_all = _saved_states(ctx)
        delta, grad_h0 = _backward_loop(
            grad_states, r_all, lambda acc, d, out: torch.addcmul(acc, d, w, out=out),
            ctx.alpha, ctx.activation, ctx.needs_input_grad[1],
        )
        grad_w = None
        if ctx.needs_input_grad[2]:
            first, rest = _prev_states(h_all, h0)
            grad_w = (delta[0] * first).sum(0)
            if delta.shape[0] > 1:
                grad_w += (delta[1:] * rest).sum((0, 1))
        return delta, grad_h0, grad_w, None, None


# ------------------------------------------------------------------------------ sparse
class SparsityPattern:
    """CSR index structure of a bool mask [N, N], its transpose, and the flat gather index.

    ``flat`` int64 [nnz]: positions ``i * N + j`` of the nonzeros in row-major (CSR) order;
    ``perm`` [nnz]: CSR-of-transpose order as positions into the CSR values.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        if mask.dim() != 2 or mask.shape[0] != mask.shape[1]:
            raise ValueError(f"mask must be a square [N, N] matrix, got {tuple(mask.shape)}")
        n = mask.shape[0]
        self.n = n
        rows, cols = mask.nonzero(as_tuple=True)  # row-major order
        self.nnz = int(rows.numel())
        self.density = self.nnz / (n * n)
        self.flat = rows * n + cols
        # int32 indices: the CPU (MKL) sparse product would convert int64 ones on every call
        index = torch.int32 if n * n < 2**31 else torch.int64
        self.crow = _crow(rows, n).to(index)
        self.col = cols.to(index)
        self.perm = torch.argsort(cols * n + rows)
        self.crow_t = _crow(cols[self.perm], n).to(index)
        self.col_t = rows[self.perm].to(index)

    def csr(self, values: torch.Tensor) -> torch.Tensor:
        """``W`` as a CSR tensor from its ``nnz`` values (CSR order)."""
        return _csr(self.crow, self.col, values, self.n)

    def csr_t(self, values: torch.Tensor) -> torch.Tensor:
        """``W.T`` as a CSR tensor from W's ``nnz`` values (CSR order)."""
        return _csr(self.crow_t, self.col_t, values[self.perm], self.n)


def _crow(rows: torch.Tensor, n: int) -> torch.Tensor:
    counts = torch.bincount(rows, minlength=n)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support.*")
        return torch.sparse_csr_tensor(crow, col, values, (n, n), check_invariants=False)


class SparseRecurrence(torch.autograd.Function):
    """Whole-sequence CSR recurrence in unit-major layout: ``apply(drive_t, h0_t, values,
    pattern, alpha, activation)``.

    drive_t [T, N, B], h0_t [N, B], values [nnz] (W at ``pattern``'s nonzeros, CSR order);
    returns states [T, N, B].
    """

    @staticmethod
    def forward(ctx, drive, h0, values, pattern, alpha, activation):  # noqa: D102
        w = pattern.csr(values.detach())
        r_all, h_all = _forward_loop(
            drive, h0, lambda out, d, h: torch.addmm(d, w, h, out=out), alpha, activation
        )
        ctx.pattern = pattern
        _save_states(ctx, h0, values, r_all, h_all, alpha, activation)
        return h_all

    @staticmethod
    def backward(ctx, grad_states):  # noqa: D102
        h0, values, r_all, h_all = _saved_states(ctx)
        pattern = ctx.pattern
        w_t = pattern.csr_t(values.detach())
        on_delta = grad_w = None
        if ctx.needs_input_grad[2]:
            # the recurrent-weight gradient at the nonzeros, sum_t delta_t h_{t-1}^T sampled
            # at the mask, accumulated one step at a time in place (a sampled dense-dense
            # product per step: both operands are contiguous [N, B] slices, no copies)
            grad_w = pattern.csr(torch.zeros_like(values))

            def on_delta(t: int, d: torch.Tensor) -> None:
                prev = h0 if t == 0 else h_all[t - 1]
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support.*")
                    torch.sparse.sampled_addmm(grad_w, d, prev.T, out=grad_w)

        delta, grad_h0 = _backward_loop(
            grad_states, r_all, lambda acc, d, out: torch.addmm(acc, w_t, d, out=out), ctx.alpha,
            ctx.activation, ctx.needs_input_grad[1], on_delta,
        )
        grad_values = None if grad_w is None else grad_w.values()
        return delta, grad_h0, grad_values, None, None, None


def sparse_recurrence(
    drive_t: torch.Tensor, h0_t: torch.Tensor, weight: torch.Tensor, pattern: SparsityPattern,
    alpha: float, activation: str,
) -> torch.Tensor:
    """The sparse kernel in unit-major layout: states [T, N, B] from drive_t [T, N, B], h0_t
    [N, B] and the dense [N, N] ``weight`` (read only at ``pattern``'s nonzeros; its gradient is
    exactly 0 elsewhere). MaskedRNN calls this directly, so no [T, B, N] transposes are made."""
    values = weight.reshape(-1)[pattern.flat]
    return SparseRecurrence.apply(drive_t, h0_t.contiguous(), values, pattern, alpha, activation)


class UnitMajorLinear(torch.autograd.Function):
    """``out[t] = weight @ inp[t] + bias[:, None]`` for every step, in unit-major layout:
    ``apply(inp, weight, bias)`` with inp [T, K, B], weight [M, K], bias [M] or None; returns a
    new contiguous [T, M, B].

    The sparse kernel's input projection and readout: it writes the recurrence's [T, N, B]
    drive directly (one ``addmm`` per step into a preallocated buffer) and takes the gradient
    of a [T, N, B] tensor without the [T, N, B] <-> [N, T*B] transposed copies that one
    ``[M, K] x [K, T*B]`` product would need; ``grad_weight = sum_t g[t] inp[t]^T`` is
    accumulated in place, one ``addmm_`` per step.
    """

    @staticmethod
    def forward(ctx, inp, weight, bias):  # noqa: D102
        inp = inp.contiguous()
        out = inp.new_empty(inp.shape[0], weight.shape[0], inp.shape[2])
        for t in range(inp.shape[0]):
            if bias is None:
                torch.mm(weight, inp[t], out=out[t])
            else:
                torch.addmm(bias[:, None], weight, inp[t], out=out[t])
        ctx.save_for_backward(inp, weight)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        inp, weight = ctx.saved_tensors
        grad_inp = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # per step too: a batched matmul would fold T*B and
            grad_inp = inp.new_empty(inp.shape)  # transpose a [T, B, K] result back
            for t in range(grad.shape[0]):
                torch.mm(weight.T, grad[t], out=grad_inp[t])
        if ctx.needs_input_grad[1]:
            grad_weight = torch.zeros_like(weight)
            for t in range(grad.shape[0]):
                grad_weight.addmm_(grad[t], inp[t].T)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2))
        return grad_inp, grad_weight, grad_bias


def unit_major_linear(
    inp: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """[T, M, B] = ``weight`` [M, K] applied to every step of ``inp`` [T, K, B], plus ``bias``
    [M] (see :class:`UnitMajorLinear`)."""
    if inp.dim() != 3 or weight.dim() != 2 or inp.shape[1] != weight.shape[1]:
        raise ValueError(f"inp [T, K, B] and weight [M, K] do not match: {tuple(inp.shape)}, "
                         f"{tuple(weight.shape)}")
    return UnitMajorLinear.apply(inp, weight, bias)


# ------------------------------------------------------------------------------ dispatch
def sparse_max_density(n: int) -> float:
    """The ``auto`` threshold at ``n`` units: log-N interpolation of SPARSE_MAX_DENSITY."""
    sizes = sorted(SPARSE_MAX_DENSITY)
    if n <= sizes[0]:
        return SPARSE_MAX_DENSITY[sizes[0]]
    if n >= sizes[-1]:
        return SPARSE_MAX_DENSITY[sizes[-1]]
    for lo, hi in zip(sizes, sizes[1:], strict=False):
        if lo <= n <= hi:
            f = (math.log(n) - math.log(lo)) / (math.log(hi) - math.log(lo))
            return SPARSE_MAX_DENSITY[lo] + f * (SPARSE_MAX_DENSITY[hi] - SPARSE_MAX_DENSITY[lo])
    raise AssertionError("unreachable")


def choose_kernel(n: int, density: float, device: torch.device | str = "cpu") -> str:
    """``"dense"`` or ``"sparse"`` for a matrix recurrence of ``n`` units at ``density``.

    CPU: sparse when ``density <= sparse_max_density(n)`` (measured crossovers). Other devices:
    dense (the sparse kernel runs there too, but its crossovers were not measured).
    """
    if torch.device(device).type != "cpu":
        return "dense"
    limit = sparse_max_density(n)
    return "sparse" if limit > 0 and density < 1.0 and density <= limit else "dense"


def check_kernel(kernel: str) -> str:
    if kernel not in KERNELS:
        raise ValueError(f"kernel={kernel!r} is not one of {KERNELS}")
    return kernel


def recurrence(
    drive: torch.Tensor,
    h0: torch.Tensor,
    weight: torch.Tensor,
    alpha: float,
    activation: str,
    kernel: str,
    mask: torch.Tensor | None = None,
    pattern: SparsityPattern | None = None,
) -> torch.Tensor:
    """States [T, B, N] of the recurrence with the named kernel (``"auto"`` resolved here).

    ``weight`` is the raw parameter: [N, N] (``mask`` bool [N, N] or None for all-to-all) or
    the autapse vector [N]. ``pattern`` (the mask's :class:`SparsityPattern`) is needed for
    ``"sparse"``; without one it is built from the mask (or from all N*N entries).
    """
    check_kernel(kernel)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")
    if drive.shape[0] == 0:
        return drive.new_zeros(drive.shape)
    if weight.dim() == 1:  # autapse pool
        if kernel == "reference":
            return reference_recurrence(drive, h0, weight, alpha, activation)
        return DiagonalRecurrence.apply(drive, h0, weight, alpha, activation)
    n = weight.shape[0]
    if kernel == "auto":
        density = 1.0 if mask is None else (
            pattern.density if pattern is not None else float(mask.sum()) / (n * n))
        kernel = choose_kernel(n, density, drive.device)
    if kernel == "sparse":
        if pattern is None:
            full = torch.ones(n, n, dtype=torch.bool, device=weight.device)
            pattern = SparsityPattern(full if mask is None else mask)
        states = sparse_recurrence(drive.transpose(1, 2).contiguous(), h0.T, weight, pattern,
                                   alpha, activation)
        return states.transpose(1, 2).contiguous()
    w = weight if mask is None else weight * mask
    if kernel == "reference":
        return reference_recurrence(drive, h0, w, alpha, activation)
    return DenseRecurrence.apply(drive, h0, w, alpha, activation)
