"""Run a policy exported by ``satr export`` in Python, with satr's own arithmetic.

numpy alone steps the network (plus ``safetensors`` to read a ``.safetensors`` file,
or ``nir`` to read a ``.nir`` graph). The update is SPEC 1 of satr's docs/SPEC.md in
f32, in satr's operation order, so on the same observations the actions are the
ones satr takes, bit for bit (tests/python_policy.rs checks whole episodes).

    from satr.policy import SatrPolicy   # or: from satr_policy import SatrPolicy
    policy = SatrPolicy.load("runs/cartpole-s0-.../policy.safetensors")
    policy.reset()                      # or reset(seed=..., generation=..., member=...)
    action = policy.act(observation)    # int for discrete tasks, np.ndarray otherwise

``reset`` draws the initial membrane potentials from numpy's generator; given a key
(seed, generation, member, episode) it draws them from satr's Philox stream instead,
so an episode of ``satr eval`` can be reproduced exactly (``satr eval`` runs member m
of the checkpoint's generation, episode 0, with the run's seed).

This module is part of the ``satr`` package (``satr.policy``) and needs nothing of
it: ``python/satr_policy.py`` loads this file alone, so the policy also runs where only
numpy is installed. ``python -m satr.policy POLICY TRANSCRIPT`` (or ``python
python/satr_policy.py POLICY TRANSCRIPT``) replays a ``satr eval --transcript`` file
and prints how many steps differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

F32 = np.float32

# Philox-4x32-10 (satr's src/rng.rs, Random123's constants).
_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_STREAM_POTENTIAL = 1
_MASK = 0xFFFFFFFF


def philox4x32_10(counter: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox-4x32-10 of counters ``[..., 4]`` (uint32) under ``key``."""
    c = [counter[..., i].astype(np.uint64) for i in range(4)]
    k0, k1 = key
    for rnd in range(10):
        if rnd > 0:
            k0 = (k0 + _W0) & _MASK
            k1 = (k1 + _W1) & _MASK
        p0 = np.uint64(_M0) * c[0]
        p1 = np.uint64(_M1) * c[2]
        c = [
            (p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0),
            p1 & np.uint64(_MASK),
            (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1),
            p0 & np.uint64(_MASK),
        ]
    return np.stack(c, axis=-1).astype(np.uint32)


def potential_uniforms(n: int, seed: int, generation: int, member: int, episode: int) -> np.ndarray:
    """satr's uniforms in [0, 1) (f32) for the initial potentials of ``n`` neurons."""
    blocks = (n + 3) // 4
    ctr = np.zeros((blocks, 4), dtype=np.uint32)
    ctr[:, 0] = np.arange(blocks, dtype=np.uint32)
    ctr[:, 1] = member
    ctr[:, 2] = generation
    ctr[:, 3] = _STREAM_POTENTIAL | (episode << 2)
    words = philox4x32_10(ctr, (seed & _MASK, (seed >> 32) & _MASK)).reshape(-1)[:n]
    return (words >> np.uint32(8)).astype(F32) * F32(1.0 / 16777216.0)


@dataclass
class SatrPolicy:
    """A binary RSNN policy (SPEC 1) with its normaliser and action mapping."""

    w_in: np.ndarray  # bool [2d, N]
    w_h: np.ndarray  # bool [N, N], row = presynaptic neuron
    w_out: np.ndarray  # bool [N, a]
    n_exc: int
    substeps: int
    r_in: np.float32
    r_h: np.float32
    r_out: np.float32
    alpha_syn: np.float32
    alpha_v: np.float32
    alpha_out: np.float32
    v_reset: np.float32
    v_threshold: np.float32
    spike_rate: np.float32
    v_span: np.float32
    obs_mean: np.ndarray  # f64 [d]
    obs_var: np.ndarray  # f64 [d]
    clip_obs: float
    discrete: bool
    action_low: Optional[np.ndarray] = None
    action_high: Optional[np.ndarray] = None
    task: str = ""

    def __post_init__(self) -> None:
        n = self.w_h.shape[0]
        self.neurons = n
        self.inv_std = 1.0 / np.sqrt(self.obs_var + 1e-8)
        self.w_h_exc = self.w_h[: self.n_exc].astype(np.int32)
        self.w_h_inh = self.w_h[self.n_exc :].astype(np.int32)
        self.r_spike = np.where(np.arange(n) < self.n_exc, self.spike_rate, -self.spike_rate).astype(F32)
        self.outputs = np.zeros(self.w_out.shape[1], dtype=F32)
        self.reset()

    # ---- loading -------------------------------------------------------------------

    @classmethod
    def load(cls, path: str) -> "SatrPolicy":
        """Reads a ``.safetensors`` or ``.nir`` file written by ``satr export``."""
        if str(path).endswith(".nir"):
            return cls.from_nir(path)
        return cls.from_safetensors(path)

    @classmethod
    def from_safetensors(cls, path: str) -> "SatrPolicy":
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata()
            t = {k: f.get_tensor(k) for k in f.keys()}
        _check_format(meta)
        discrete = meta["action"] == "discrete"
        scalar = lambda k: F32(t[k][0])  # noqa: E731
        return cls(
            w_in=t["w_in"].astype(bool),
            w_h=t["w_h"].astype(bool),
            w_out=t["w_out"].astype(bool),
            n_exc=int(meta["n_exc"]),
            substeps=int(meta["substeps"]),
            r_in=scalar("r_in"),
            r_h=scalar("r_h"),
            r_out=scalar("r_out"),
            alpha_syn=scalar("alpha_syn"),
            alpha_v=scalar("alpha_v"),
            alpha_out=scalar("alpha_out"),
            v_reset=scalar("v_reset_f32"),
            v_threshold=scalar("v_threshold_f32"),
            spike_rate=scalar("spike_rate"),
            v_span=scalar("v_span"),
            obs_mean=t["obs_mean"].astype(np.float64),
            obs_var=t["obs_var"].astype(np.float64),
            clip_obs=float(meta["clip_obs"]),
            discrete=discrete,
            action_low=None if discrete else t["action_low"],
            action_high=None if discrete else t["action_high"],
            task=meta["task"],
        )

    @classmethod
    def from_nir(cls, path: str) -> "SatrPolicy":
        """Rebuilds the policy from the NIR graph alone: binary weights and scales from
        the Linear nodes, time constants from the LIF/LI nodes, the discretisation
        (``dt``, ``substeps``), normaliser and action mapping from the graph metadata;
        the decays are derived as satr derives them (exp in f64, rounded to f32)."""
        import nir

        g = nir.read(str(path))
        meta = {k: _text(v) for k, v in g.metadata.items()}
        _check_format(meta)
        nodes = g.nodes
        for name, kind in [("mirror", nir.Linear), ("w_in", nir.Linear), ("lif", nir.LIF),
                           ("w_h", nir.Linear), ("syn", nir.LI), ("readout", nir.LI),
                           ("w_out", nir.Linear)]:
            if not isinstance(nodes.get(name), kind):
                raise ValueError(f"{path}: node {name!r} is not a {kind.__name__}")
        dt = float(meta["dt"])
        lif, syn, readout = nodes["lif"], nodes["syn"], nodes["readout"]
        w_in = np.asarray(nodes["w_in"].weight, dtype=F32).T  # [2d, N]
        w_h = np.asarray(nodes["w_h"].weight, dtype=F32).T  # [pre, post]
        w_out = np.asarray(nodes["w_out"].weight, dtype=F32).T  # [N, a]
        sign = np.asarray(readout.r)
        n_exc = int(np.sum(sign > 0))
        if not np.all(sign[:n_exc] > 0) or not np.all(sign[n_exc:] < 0):
            raise ValueError(f"{path}: readout signs are not excitatory-first")
        v_th = float(lif.v_threshold[0])
        v_r = float(lif.v_reset[0])
        discrete = meta["action"] == "discrete"
        return cls(
            w_in=w_in != 0,
            w_h=w_h != 0,
            w_out=w_out != 0,
            n_exc=n_exc,
            substeps=int(meta["substeps"]),
            r_in=_scale(w_in, meta["r_in"]),
            r_h=_scale(w_h, meta["r_h"]),
            r_out=_scale(w_out, meta["r_out"]),
            alpha_syn=F32(math.exp(-dt / float(syn.tau[0]))),
            alpha_v=F32(math.exp(-dt / float(lif.tau[0]))),
            alpha_out=F32(math.exp(-dt / float(readout.tau[0]))),
            v_reset=F32(v_r),
            v_threshold=F32(v_th),
            spike_rate=F32(1.0) / F32(dt),
            v_span=F32(v_th - v_r),
            obs_mean=np.asarray(meta["obs_mean"], dtype=np.float64),
            obs_var=np.asarray(meta["obs_var"], dtype=np.float64),
            clip_obs=float(meta["clip_obs"]),
            discrete=discrete,
            action_low=None if discrete else np.asarray(meta["action_low"], dtype=np.float64),
            action_high=None if discrete else np.asarray(meta["action_high"], dtype=np.float64),
            task=meta["task"],
        )

    # ---- running -------------------------------------------------------------------

    def reset(
        self,
        seed: Optional[int] = None,
        generation: int = 0,
        member: int = 0,
        episode: int = 0,
        rng: Optional[np.random.Generator] = None,
    ) -> None:
        """Episode start: no spikes, zero currents and rates, potentials uniform in
        [V_r, V_th). With ``seed`` they come from satr's stream for that key."""
        n = self.neurons
        if seed is not None:
            u = potential_uniforms(n, seed, generation, member, episode)
        else:
            rng = rng or np.random.default_rng()
            u = (rng.integers(0, 1 << 24, size=n) * (1.0 / 16777216.0)).astype(F32)
        self.v = (self.v_reset + self.v_span * u).astype(F32)
        self.i_syn = np.zeros(n, dtype=F32)
        self.rate = np.zeros(n, dtype=F32)
        self.z = np.zeros(n, dtype=bool)
        self.spikes = 0

    def normalise(self, obs) -> np.ndarray:
        """SPEC 5: clip((o - mean) / sqrt(var + 1e-8), -clip, clip) in f64, then f32."""
        o = np.asarray(obs, dtype=np.float64)
        return np.clip((o - self.obs_mean) * self.inv_std, -self.clip_obs, self.clip_obs).astype(F32)

    def step_network(self, x: np.ndarray) -> np.ndarray:
        """One environment step of the network on a normalised input ``x`` (f32)."""
        x = np.asarray(x, dtype=F32)
        xt = np.concatenate([x, -x])
        zero = F32(0.0)
        i_in = np.zeros(self.neurons, dtype=F32)
        for j in range(xt.shape[0]):  # masked sum over input lines, in order
            i_in += np.where(self.w_in[j], xt[j], zero)
        i_in *= self.r_in
        for _ in range(self.substeps):
            z_exc, z_inh = self.z[: self.n_exc], self.z[self.n_exc :]
            counts = z_exc.astype(np.int32) @ self.w_h_exc - z_inh.astype(np.int32) @ self.w_h_inh
            i_spk = self.r_h * counts.astype(F32)
            self.i_syn = _flushed(self.alpha_syn * self.i_syn + i_spk)
            target = self.v_reset + self.i_syn + i_in
            v = _flushed(target + self.alpha_v * (self.v - target))
            self.z = v > self.v_threshold
            self.v = np.where(self.z, self.v_reset, v).astype(F32)
            r_t = np.where(self.z, self.r_spike, zero)
            self.rate = _flushed(r_t + self.alpha_out * (self.rate - r_t))
            self.spikes += int(self.z.sum())
        # masked sums over neurons in order: cumsum accumulates sequentially
        masked = np.where(self.w_out, self.rate[:, None], zero)
        self.outputs = (self.r_out * np.cumsum(masked, axis=0, dtype=F32)[-1]).astype(F32)
        return self.outputs

    def action(self, out: np.ndarray) -> Union[int, np.ndarray]:
        """SPEC 1: argmax (lowest index on ties), or clip(out, -1, 1) scaled to the bounds."""
        if self.discrete:
            return int(np.argmax(out))
        a = np.clip(np.asarray(out, dtype=np.float64), -1.0, 1.0)
        return self.action_low + (a + 1.0) * 0.5 * (self.action_high - self.action_low)

    def act(self, obs) -> Union[int, np.ndarray]:
        """Normalises a raw observation, steps the network and returns the action."""
        return self.action(self.step_network(self.normalise(obs)))


def _flushed(x: np.ndarray) -> np.ndarray:
    """SPEC 1: subnormal state values (exponent bits all zero) are stored as +0."""
    return np.where((x.view(np.uint32) & np.uint32(0x7F800000)) == 0, F32(0.0), x).astype(F32)


def _check_format(meta: dict) -> None:
    if meta.get("format") != "satr-policy":
        raise ValueError("not a satr policy export (metadata 'format' is not 'satr-policy')")
    if int(meta.get("format_version", "0")) != 1:
        raise ValueError(f"unsupported satr export format_version {meta.get('format_version')}")


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return v[()]
    return v


def _scale(w: np.ndarray, fallback) -> np.float32:
    """The one non-zero magnitude of a binary-weight matrix (the metadata's value if
    the matrix is all zeros)."""
    nz = np.abs(w[w != 0])
    if nz.size == 0:
        return F32(fallback)
    if not np.all(nz == nz[0]):
        raise ValueError("weights are not binary times one scale")
    return F32(nz[0])


def main(argv: Optional[list] = None) -> int:
    """Replays a ``satr eval --transcript`` file with an exported policy; prints the
    number of steps, mismatches and spikes as JSON and returns 1 on any mismatch."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Replay a satr eval transcript with an exported policy")
    ap.add_argument("policy")
    ap.add_argument("transcript")
    args = ap.parse_args(argv)
    policy = SatrPolicy.load(args.policy)
    steps = mismatches = spikes = 0
    with open(args.transcript) as f:
        lines = f.readlines()
    for line in lines:
        rec = json.loads(line)
        if "key" in rec:
            k = rec["key"]
            policy.reset(seed=k["seed"], generation=k["generation"], member=k["member"], episode=k["episode"])
        elif "step" in rec:
            x = policy.normalise(rec["obs"])
            before = policy.spikes
            out = policy.step_network(x)
            a = policy.action(out)
            same = (np.array_equal(x, np.asarray(rec["x"], dtype=F32))
                    and np.array_equal(out, np.asarray(rec["out"], dtype=F32))
                    and np.array_equal(np.asarray(a), np.asarray(rec["action"]))
                    and policy.spikes - before == rec["spikes"])
            steps += 1
            spikes += policy.spikes - before
            mismatches += not same
    print(json.dumps({"steps": steps, "mismatches": mismatches, "spikes": spikes}))
    return 1 if mismatches or steps == 0 else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
