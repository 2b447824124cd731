"""Dynamics analysis of trained agents: rollouts with states, fixed points, the autapse pool in
closed form, ring-attractor drift, figures (docs/analysis.md).

Names load on first use (torch and matplotlib only where needed)::

    from agents.analysis import rollout, task_trials, find_fixed_points, initial_states
    ro = rollout(model, task_trials("dlygo"))
    states, _ = ro.period_states("delay")
    fps = find_fixed_points(model, ro.period_input("delay"), initial_states(states, 256))
"""

from __future__ import annotations

from modcog_env.lazy import lazy_exports

_EXPORTS = {
    "stepmap": ("StepMap",),
    "rollouts": ("Rollout", "checkpoint_trials", "resolve_task", "rollout", "task_trials"),
    "fixed_points": ("FixedPointConfig", "FixedPoints", "classify", "dedup", "eigenvalues_at",
                     "find_fixed_points", "initial_states", "jacobians", "speed",
                     "time_constant_ms"),
    "autapse": ("AutapseFixedPoints", "DelayMemory", "autapse_fixed_points", "delay_memory",
                "model_autapse_fixed_points", "nearest_root_error"),
    "attractors": ("AngleDecoder", "RingReport", "angle_drift", "binned", "fit_angle_decoder",
                   "manifold_speeds", "reference_angles", "ring_report", "wrap"),
    "summary": ("Analysis", "analyze_checkpoint", "format_summary", "write_figures",
                "write_summary"),
    "cli": ("add_analyze_parser", "cmd_analyze"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
