"""RL with verifiable rewards: does it sharpen what the base model samples, or teach a new skill?

Question
  Reinforcement learning from a 0/1 verifier (GRPO) raises pass@1. Yue et al. 2025 found that at
  large k the base model's pass@k matches or beats the RL model's: RL sharpens the base model's
  distribution onto answers it already samples. Yuan et al. 2025 found that when the base model
  has two skills f and g but never saw f(g(x)), RL on composition problems teaches the
  composition, which then holds on held-out inputs: a new skill. Which one holds depends on the
  base model; this toy tests both, and a control.

Hypotheses, in words
  1. ``pass1_rises``: after RL, pass@1 on held-out composition inputs is higher than the base
     model's (regimes ``sharpen`` and ``compose``; 95% seed interval of the rise above 0).
  2. ``coverage_narrows`` (Yue et al. 2025, Fig. 1): in the ``sharpen`` regime (the base model
     already samples the right answer with non-zero probability on every problem) the base
     model's pass@K_MAX is at least the RL model's minus 0.02 (95% seed interval).
  3. ``new_skill_from_components`` (Yuan et al. 2025): in the ``compose`` regime (base knows f and
     g, never trained on the chain) RL raises pass@K_MAX on held-out inputs by more than 0.1.
  4. ``no_skill_without_component`` (control of 3): in the ``lacks_g`` regime (base never trained
     on g) RL raises held-out pass@K_MAX by less than 0.1: RL cannot compose a skill the base
     lacks, whatever it memorises on its training inputs.

Set-up
  Answers and inputs are Z_p; f, g are random permutations (new per seed). The policy is an MLP:
  hidden = relu(E_task[t] + E_x[x] + b), logits = U hidden, over p answer tokens; tasks F, G and
  the two chain steps C1, C2. A composition problem x is a two-token rollout z ~ pi(.|C1, x),
  y ~ pi(.|C2, z), rewarded 1 if y = f(g(x)). Pre-training (supervised, full batch, Adam):
  ``compose``: F and G on all inputs; ``lacks_g``: F only; ``sharpen``: F, G and the chain
  steps with label smoothing SMOOTH (so the right answer keeps non-zero but partial mass).
  RL: GRPO-style REINFORCE on the training inputs (a fraction 1 - HELD_OUT of Z_p), GROUP
  samples per problem, advantage (r - mean)/(std + 1e-6) within the group, no KL, plain SGD
  (with Adam, whose per-parameter step sizes let each training input's own embedding move as fast
  as the shared weights, RL memorised the training inputs and held-out pass@1 fell even in the
  sharpen regime; SGD lets the shared weights, which get the summed gradient, move most). pass@k is
  exact: per problem the success probability q_i = sum_z pi(z|C1,x) pi(f(g(x))|C2,z) is summed
  in closed form and pass@k = mean_i 1 - (1 - q_i)^k, the expectation of the unbiased
  estimator 1 - C(n-c,k)/C(n,k) (no Monte-Carlo error). The trainer is a custom ``lax.scan``
  (the canonical trainer fits supervised losses, not sampled rollouts), vmapped over the trials
  of a shard.

Run
  physai demo rl_verifiable_rewards
  physai verify rl_verifiable_rewards --preset paper
  Expected runtime on 2 CPU cores: tiny ~10 s, demo ~0.5 min, paper ~1 min.

Presets
  3 regimes x seeds (tiny 2, demo 5, paper 10); p = 31, hidden 128, 400 pre-training steps,
  300 RL steps (tiny: 50 and 20), groups of 16.

Figure
  pass@k on held-out inputs against k (log axis), base and RL, one panel per regime, like
  Yue et al. 2025, Fig. 1.

Known limitations
  ``new_skill_from_components`` is refuted in this toy: the base model's untrained chain tokens
  already land on the composition with some probability on every input, and RL on the training
  inputs raises their pass@1 while held-out pass@1 and pass@k fall, so the MLP memorises rather than
  composes (also with a smaller SGD step and with p = 61; the composition part of ``pass1_rises``
  is refuted for the same reason).
  Yuan et al.'s models write the intermediate result in text that the same weights then read; a
  one-hidden-layer MLP with one-hot inputs lacks that structure. The claim is kept refuted.
  Yuan et al. hold out whole compositions and deeper chains; here the held-out problems are inputs
  of the same composition, a weaker test of the same claim.
  Single-token answers and a two-step chain stand in for chains of thought; the ``sharpen``
  regime's base model covers nearly every problem at K_MAX, so hypothesis 2 tests "matches or
  beats" mostly through "matches".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

import physai
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, Verdict, all_of, product
from physai.domains import POSITIVE_INT, Domain
from physai.evidence import bootstrap_verdict, slim

HELD_OUT = 1 / 3
SMOOTH = 0.6  # label smoothing of the sharpen regime's chain pre-training
RL_OPT = optax.sgd  # plain SGD: see the docstring (Adam lets per-input embeddings memorise)
KS = (1, 2, 4, 8, 16, 32, 64)
K_MAX = KS[-1]
REGIMES = ("sharpen", "compose", "lacks_g")
# pre-training weights of the tasks F, G, C1, C2 per regime
WEIGHTS = {"sharpen": (1.0, 1.0, 1.0, 1.0), "compose": (1.0, 1.0, 0.0, 0.0), "lacks_g": (1.0, 0.0, 0.0, 0.0)}
F, G, C1, C2 = range(4)


@dataclass(frozen=True)
class Static(physai.Static):
    p: int
    hidden: int
    pre_steps: int
    rl_steps: int
    group: int


# ----------------------------------------------------------------------------- model


def init(key, p, hidden):
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "task": jax.random.normal(k1, (4, hidden)) / math.sqrt(2),
        "x": jax.random.normal(k2, (p, hidden)) / math.sqrt(2),
        "b": jnp.zeros(hidden),
        "u": jax.random.normal(k3, (hidden, p)) / math.sqrt(hidden),
    }


def log_policy(params, task, x):
    """log pi(. | task, x): (..., p)."""
    h = jax.nn.relu(params["task"][task] + params["x"][x] + params["b"])
    return jax.nn.log_softmax(h @ params["u"], axis=-1)


def success(params, f, g):
    """Exact per-input probability that the two-step rollout ends at f(g(x))."""
    p = f.shape[0]
    xs = jnp.arange(p)
    pz = jnp.exp(log_policy(params, C1, xs))  # (x, z)
    py = jnp.exp(log_policy(params, C2, xs))  # (z, y)
    return jnp.sum(pz * py[:, f[g]].T, axis=1)  # sum_z pi(z|x) pi(f(g(x))|z)


def pretrain(params, f, g, weights, smooth, steps, lr=0.03):
    p = f.shape[0]
    xs = jnp.arange(p)
    eye = jnp.eye(p)
    soft = (1 - smooth) * eye + smooth / p

    def loss(prm):
        ce = lambda task, target: -jnp.mean(jnp.sum(target * log_policy(prm, task, xs), -1))  # noqa: E731
        return (
            weights[F] * ce(F, eye[f])
            + weights[G] * ce(G, eye[g])
            + weights[C1] * ce(C1, soft[g])
            + weights[C2] * ce(C2, soft[f])
        )

    opt = optax.adam(lr)

    def step(carry, _):
        prm, st = carry
        grads = jax.grad(loss)(prm)
        upd, st = opt.update(grads, st)
        return (optax.apply_updates(prm, upd), st), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def grpo(params, key, f, g, train_x, steps, group, lr=0.5):
    """Group-normalised REINFORCE on every training input each step, ``group`` rollouts each."""
    opt = RL_OPT(lr)
    target = f[g]

    def step(carry, k):
        prm, st = carry
        kz, ky = jax.random.split(k)
        xs = jnp.repeat(train_x, group)
        z = jax.random.categorical(kz, log_policy(prm, C1, xs))
        y = jax.random.categorical(ky, log_policy(prm, C2, z))
        r = (y == target[xs]).astype(jnp.float32).reshape(-1, group)
        adv = ((r - r.mean(1, keepdims=True)) / (r.std(1, keepdims=True) + 1e-6)).reshape(-1)
        adv = jax.lax.stop_gradient(adv)

        def loss(q):
            lp = jnp.take_along_axis(log_policy(q, C1, xs), z[:, None], 1)[:, 0]
            lp += jnp.take_along_axis(log_policy(q, C2, z), y[:, None], 1)[:, 0]
            return -jnp.mean(adv * lp)

        upd, st = opt.update(jax.grad(loss)(prm), st)
        return (optax.apply_updates(prm, upd), st), r.mean()

    (params, _), reward = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
    return params, reward


def one_trial(key, weights, smooth, s: Static):
    kf, kg, ki, ks, kr = jax.random.split(key, 5)
    f, g = jax.random.permutation(kf, s.p), jax.random.permutation(kg, s.p)
    order = jax.random.permutation(ks, s.p)
    n_train = s.p - int(round(HELD_OUT * s.p))
    base = pretrain(init(ki, s.p, s.hidden), f, g, weights, smooth, s.pre_steps)
    rl, reward = grpo(base, kr, f, g, order[:n_train], s.rl_steps, s.group)
    train = jnp.zeros(s.p, bool).at[order[:n_train]].set(True)
    return success(base, f, g), success(rl, f, g), train, reward


def run(shard) -> ShardResult:
    s = shard.static
    keys = jnp.stack([jax.random.PRNGKey(int(t.params["seed"])) for t in shard.trials])
    weights = jnp.array([WEIGHTS[t.params["regime"]] for t in shard.trials])
    smooth = jnp.array([SMOOTH if t.params["regime"] == "sharpen" else 0.0 for t in shard.trials])
    fn = jax.jit(jax.vmap(lambda k, w, sm: one_trial(k, w, sm, s)))
    q_base, q_rl, train, reward = map(np.asarray, fn(keys, weights, smooth))
    rows, curves = [], []
    for i, trial in enumerate(shard.trials):
        row = {"final_reward": float(reward[i, -10:].mean()), "first_reward": float(reward[i, :10].mean())}
        for split, mask in (("train", train[i]), ("heldout", ~train[i])):
            for model, q in (("base", q_base[i]), ("rl", q_rl[i])):
                for k in KS:
                    value = float(np.mean(1 - (1 - q[mask]) ** k))
                    curves.append(
                        {
                            "trial_id": trial.trial_id,
                            "step": k,
                            "split": split,
                            "metric": f"{model}_pass",
                            "value": value,
                        }
                    )
                row[f"{model}_pass1_{split}"] = float(np.mean(q[mask]))
                row[f"{model}_passK_{split}"] = float(np.mean(1 - (1 - q[mask]) ** K_MAX))
        rows.append(row)
    return ShardResult(rows, pd.DataFrame(curves))


# ----------------------------------------------------------------------------- checks


def _gap(a: str, b: str):
    return lambda t: float(t[a].to_numpy(float).mean() - t[b].to_numpy(float).mean())


def _regime_part(results: Results, regime: str, a: str, b: str, low: float, high: float, what: str, strict=True):
    df = results.ok
    rows = df[df["regime"] == regime] if "regime" in df else df.iloc[:0]
    if rows.empty:
        return Verdict("inconclusive", math.nan, f"({low:g}, {high:g})", f"no trials of regime {regime}")
    return bootstrap_verdict(slim(rows, a, b), _gap(a, b), low, high, what, hypothesis=regime, strict=strict)


def check_pass1_rises(results: Results) -> Verdict:
    parts = [
        _regime_part(results, r, "rl_pass1_heldout", "base_pass1_heldout", 0.0, math.inf, "RL - base pass@1")
        for r in ("sharpen", "compose")
    ]
    return all_of(parts, "pass@1 on held-out composition inputs, RL minus base")


def check_coverage_narrows(results: Results) -> Verdict:
    v = _regime_part(
        results, "sharpen", "base_passK_heldout", "rl_passK_heldout", -NARROW_TOL, math.inf, f"base - RL pass@{K_MAX}"
    )
    return all_of([v], f"pass@{K_MAX} on held-out inputs, base minus RL, in the sharpen regime")


def check_new_skill(results: Results) -> Verdict:
    v = _regime_part(
        results, "compose", "rl_passK_heldout", "base_passK_heldout", NEW_SKILL, math.inf, f"RL - base pass@{K_MAX}"
    )
    return all_of([v], f"pass@{K_MAX} on held-out inputs, RL minus base, base with both components")


def check_control(results: Results) -> Verdict:
    v = _regime_part(
        results, "lacks_g", "rl_passK_heldout", "base_passK_heldout", -math.inf, NEW_SKILL, f"RL - base pass@{K_MAX}"
    )
    return all_of([v], f"pass@{K_MAX} on held-out inputs, RL minus base, base without g")


NARROW_TOL = 0.02
NEW_SKILL = 0.1

_YUE = (
    "Yue et al. 2025, 'Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the "
    "Base Model?', arXiv:2504.13837"
)
_YUAN = (
    "Yuan et al. 2025, 'From f(x) and g(x) to f(g(x)): LLMs Learn New Skills in RL by Composing Old Ones', "
    "arXiv:2509.25123"
)

HYPOTHESES = (
    Hypothesis(
        "pass1_rises",
        "RL with a 0/1 verifier raises pass@1 on held-out composition inputs (sharpen and compose regimes): "
        "RL - base > 0 (95% seed interval)",
        "Yue et al. 2025, Fig. 1 (pass@1 of RL above base); Shao et al. 2024 (GRPO)",
        check_pass1_rises,
        source=Source(
            paper=f"{_YUE}; Shao et al. 2024, 'DeepSeekMath', arXiv:2402.03300",
            where="Yue et al. 2025, Fig. 1 (RLVR models beat their base at k = 1)",
            statement="RLVR improves pass@1 (qualitative)",
            tolerance="qualitative: only the sign is claimed, decided by the 95% seed interval (open bound 0)",
        ),
    ),
    Hypothesis(
        "coverage_narrows",
        f"Where the base model samples the right answer on every problem (sharpen regime), base pass@{K_MAX} >= "
        f"RL pass@{K_MAX} - {NARROW_TOL} on held-out inputs (95% seed interval)",
        "Yue et al. 2025, Fig. 1",
        check_coverage_narrows,
        source=Source(
            paper=_YUE,
            where="Fig. 1 (pass@k curves cross: base above RL at large k)",
            statement="at large k the base model's pass@k matches or exceeds the RL model's (qualitative)",
            tolerance=f"'matches' is allowed a {NARROW_TOL} shortfall: pass@k is exact here (no sampling error), "
            "and 0.02 is below one held-out problem's weight (1/10), so RL covering one more problem refutes it",
        ),
    ),
    Hypothesis(
        "new_skill_from_components",
        f"When the base knows f and g but never the chain (compose regime), RL on composition inputs raises "
        f"held-out pass@{K_MAX} by more than {NEW_SKILL} (95% seed interval)",
        "Yuan et al. 2025, main results (RL on compositions of known atomic skills generalises beyond its data)",
        check_new_skill,
        source=Source(
            paper=_YUAN,
            where="abstract and main results (RL on level-2 compositions; evaluation on problems unseen in RL)",
            statement="RL teaches composing known atomic skills; gains hold at large k (qualitative)",
            tolerance=f"a rise of {NEW_SKILL} (one held-out problem's weight) is the smallest a reader would call a "
            "new skill; set before measuring",
        ),
    ),
    Hypothesis(
        "no_skill_without_component",
        f"Control of the previous: when the base lacks g (lacks_g regime), RL raises held-out pass@{K_MAX} by "
        f"less than {NEW_SKILL} (95% seed interval)",
        "Yuan et al. 2025 (composition needs the atomic skills in the base model)",
        check_control,
        source=Source(
            paper=_YUAN,
            where="abstract ('once a model has already learned f and g prior to RL'): the precondition",
            statement="without an atomic skill RL does not produce the composition (qualitative)",
            tolerance=f"the same {NEW_SKILL} threshold as new_skill_from_components, from the other side",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets


def _grid(seeds, regimes=REGIMES):
    return product(regime=list(regimes), seed=list(seeds))


SETTINGS = {"p": 31, "hidden": 128, "pre_steps": 400, "rl_steps": 300, "group": 16}
PRESETS = {
    "tiny": Preset(_grid(range(2)), {**SETTINGS, "pre_steps": 50, "rl_steps": 20}, "seconds-long smoke test"),
    "demo": Preset(_grid(range(5)), SETTINGS, "3 regimes x 5 seeds"),
    "paper": Preset(_grid(range(10)), SETTINGS, "3 regimes x 10 seeds"),
}


def plot(results: Results) -> dict:
    from analysis import plots

    ok, c = results.ok, results.curves
    if ok.empty or c.empty:
        return {}
    c = c[c["split"] == "heldout"].merge(ok[["trial_id", "regime"]], on="trial_id")
    regimes = sorted(c["regime"].unique())
    fig, axes = plots.figure(ncols=len(regimes), width=3.6, height=3.2)
    axes = np.atleast_1d(axes)
    for ax, regime in zip(axes, regimes):
        g = c[c["regime"] == regime].groupby(["metric", "step"])["value"].mean()
        for metric, label in (("base_pass", "base"), ("rl_pass", "RL (GRPO)")):
            if metric in g.index.get_level_values(0):
                ax.plot(g[metric].index, g[metric].values, "o-", ms=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set(xlabel="k", title=regime, ylim=(0, 1.02))
        ax.legend(fontsize=7)
    axes[0].set_ylabel("pass@k on held-out inputs")
    return {"rl_verifiable_rewards": fig}


DOMAINS = {
    "regime": Domain(choices=REGIMES),
    "p": Domain(low=5, integer=True),  # a held-out third needs a few inputs
    "hidden": POSITIVE_INT,
    "group": Domain(low=2, integer=True),  # the advantage is normalised within a group
    "pre_steps": POSITIVE_INT,
    "rl_steps": POSITIVE_INT,
}

EXPERIMENT = Experiment(
    name="rl_verifiable_rewards",
    question="Does RL with a verifiable reward only sharpen the base model's samples (Yue et al. 2025) or "
    "teach a new skill by composing known ones (Yuan et al. 2025), and what in the base model decides?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=32,
    domains=DOMAINS,
    doc=__doc__,
)
