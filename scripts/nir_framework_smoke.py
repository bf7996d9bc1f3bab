#!/usr/bin/env python3
"""Smoke test: load a `satr export --format nir` graph into a third-party SNN
framework (Spyx, JAX/Flax-NNX, CPU) and run it.

usage: python scripts/nir_framework_smoke.py POLICY.nir [--transcript T.jsonl]
           [--steps N] [--seed S] [--exact-decay]
install: pip install -r scripts/requirements-nir-framework.txt

Prints one JSON object:
  {"framework", "version", "steps", "output_shape", "action_agreement",
   "max_abs_out_diff", ...extra diagnostics}
Exit status: 0 ok, 2 the graph could not be loaded, 3 an output had the wrong
shape, 4 the transcript could not be read.

Why a rewritten graph: Spyx 1.0.0's importer (spyx.nir.from_nir) only builds a
*sequential* chain, only recognises a recurrent layer as a direct 2-cycle
LIF/CubaLIF <-> Linear, and only accepts nir.LI when a nir.Threshold follows it.
satr's graph (3-cycle lif -> w_h -> syn -> lif, branch lif -> readout, bare LI
readout) makes the importer loop forever (its edge walk follows the cycle) or
raise on the LI. So this script rewrites the graph, in NIR, into the nearest
form Spyx can import and hands that to spyx.nir.from_nir:

  input -> mirror -> w_in' -> rec{rec.lif: CubaLIF <-> rec.w_h: Linear}
        -> w_ro: Linear (a x N) -> ro: LI (a) -> ro_thr: Threshold(+inf-ish) -> output

* syn is folded into the neuron (CubaLIF = synaptic LI + LIF). The input
  current w_in@[x,-x] therefore also passes through the tau_syn filter (satr
  adds it to the membrane target unfiltered): a real, documented difference.
* The readout LI is linear, so w_out @ LI_sigma(z) == LI_1((w_out*sigma) @ z):
  the (a,) readout filter runs after w_ro = w_out*sigma*gain. Its membrane V
  (a PSU_LIF state in Spyx) is the network output; the Threshold is set so high
  that it never fires and is only there to satisfy the importer.
* Spyx reads only tau (-> decay 1 - dt/tau, Euler) and v_threshold from NIR
  neuron nodes; it ignores r, w_in, v_leak and v_reset and integrates
  I = a*I + x, V = b*V + I with unit input gain. The gains NIR/satr put on the
  neuron (dt/tau_v on the membrane input, dt/tau_syn on the held input, and the
  readout's sigma/tau_out for boxcar spikes of area 1) are folded into the
  Linear weights of the rewritten graph.
* --exact-decay writes tau' = dt / (1 - exp(-dt/tau)) instead of tau so that
  Spyx's Euler decay equals satr's exp(-dt/tau), and uses the exact gains
  (1 - exp(-dt/tau)); what remains different is structural (see the report).
"""
import argparse
import contextlib
import json
import sys
from importlib.metadata import version as pkg_version

import numpy as np

REQUIRED = ["input", "mirror", "w_in", "lif", "w_h", "syn", "readout", "w_out", "output"]
BIG_THRESHOLD = 1e30


def die(code, msg):
    print(json.dumps({"error": msg}), file=sys.stderr)
    sys.exit(code)


def meta_value(graph, key, default):
    md = getattr(graph, "metadata", None) or {}
    if key in md:
        v = np.asarray(md[key]).reshape(-1)
        if v.size:
            return v[0].item()
    return default


def spyx_variant(g, dt, exact):
    """satr NIR graph -> Spyx-importable NIR graph (see module docstring)."""
    import nir

    missing = [k for k in REQUIRED if k not in g.nodes]
    if missing:
        raise ValueError(f"graph lacks nodes {missing}")
    nd = g.nodes
    f32 = np.float32
    lif, syn, ro = nd["lif"], nd["syn"], nd["readout"]
    for name, typ in [("mirror", nir.Linear), ("w_in", nir.Linear), ("w_h", nir.Linear),
                      ("w_out", nir.Linear), ("lif", nir.LIF), ("syn", nir.LI),
                      ("readout", nir.LI)]:
        if not isinstance(nd[name], typ):
            raise ValueError(f"node {name} is {type(nd[name]).__name__}, want {typ.__name__}")
    for name in ["v_leak"]:
        for node in (lif, syn, ro):
            if not np.allclose(getattr(node, name), 0):
                raise ValueError("non-zero v_leak is not representable in Spyx")
    if not np.allclose(np.asarray(lif.v_reset if lif.v_reset is not None else 0), 0):
        raise ValueError("v_reset != 0 is not representable in Spyx (it resets by subtraction)")

    tau_v = np.asarray(lif.tau, np.float64)
    tau_s = np.asarray(syn.tau, np.float64)
    tau_o = np.asarray(ro.tau, np.float64)
    if np.ptp(tau_o) > 1e-9:
        raise ValueError("readout tau must be uniform to move the LI after w_out")
    # synaptic jump per unit spike: syn is tau ds/dt = -s + r*spike (Dirac) -> r/tau
    syn_jump = np.asarray(syn.r, np.float64) / tau_s
    if not np.allclose(syn_jump, 1.0):
        raise ValueError("expected syn.r == syn.tau (unit current jump per spike)")
    lif_r = np.asarray(lif.r, np.float64)

    if exact:
        g_v, g_s, g_o = (1 - np.exp(-dt / tau_v)), (1 - np.exp(-dt / tau_s)), (1 - np.exp(-dt / tau_o))
    else:
        g_v, g_s, g_o = dt / tau_v, dt / tau_s, dt / tau_o
    # tau whose Euler decay 1 - dt/tau equals what we want Spyx to use
    ftau = lambda g_: (dt / g_).astype(f32)

    w_in = nd["w_in"].weight.astype(np.float64) * (g_v * lif_r * g_s)[:, None]
    w_h = nd["w_h"].weight.astype(np.float64) * (g_v * lif_r)[:, None]
    sigma = np.asarray(ro.r, np.float64)
    w_ro = nd["w_out"].weight.astype(np.float64) * (sigma * g_o / dt)[None, :]
    n = w_h.shape[0]
    a = w_ro.shape[0]
    ones = lambda k: np.ones(k, f32)
    nodes = {
        "input": nir.Input(input_type=dict(nd["input"].input_type)),
        "mirror": nir.Linear(weight=nd["mirror"].weight.astype(f32)),
        "w_in": nir.Linear(weight=w_in.astype(f32)),
        "rec.lif": nir.CubaLIF(tau_syn=ftau(g_s), tau_mem=ftau(g_v), r=ones(n),
                               v_leak=np.zeros(n, f32),
                               v_threshold=np.asarray(lif.v_threshold, f32),
                               v_reset=np.zeros(n, f32), w_in=ones(n)),
        "rec.w_h": nir.Linear(weight=w_h.astype(f32)),
        "w_ro": nir.Linear(weight=w_ro.astype(f32)),
        "ro": nir.LI(tau=np.full(a, ftau(g_o)[0], f32), r=ones(a), v_leak=np.zeros(a, f32)),
        "ro_thr": nir.Threshold(threshold=np.full(a, BIG_THRESHOLD, f32)),
        "output": nir.Output(output_type={"output": np.array([a])}),
    }
    edges = [("input", "mirror"), ("mirror", "w_in"), ("w_in", "rec.lif"),
             ("rec.lif", "rec.w_h"), ("rec.w_h", "rec.lif"), ("rec.lif", "w_ro"),
             ("w_ro", "ro"), ("ro", "ro_thr"), ("ro_thr", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges), n, a


def read_transcript(path):
    episodes = []  # list of (episode_id, [records])
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                die(4, f"{path}:{ln}: {e}")
            if not isinstance(rec, dict) or "x" not in rec:
                continue  # headers, summaries, other record kinds
            ep = rec.get("episode", 0)
            if not episodes or episodes[-1][0] != ep or rec.get("step") == 0 and episodes[-1][1]:
                episodes.append((ep, []))
            episodes[-1][1].append(rec)
    if not episodes:
        die(4, f"{path}: no per-step records with an 'x' field")
    return episodes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("policy")
    ap.add_argument("--transcript")
    ap.add_argument("--steps", type=int, default=100, help="random steps without a transcript")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact-decay", action="store_true",
                    help="make Spyx's Euler decays equal exp(-dt/tau) (diagnostic)")
    args = ap.parse_args()

    try:
        import nir
        import jax
        import jax.numpy as jnp
        from flax import nnx
        import spyx.nir as spyx_nir
        from spyx.nn import PSU_LIF, RCuBaLIF, run
    except Exception as e:  # noqa: BLE001
        die(2, f"framework import failed: {e!r}")

    try:
        g = nir.read(args.policy)
        dt = float(meta_value(g, "dt", 0.5))
        k = int(meta_value(g, "substeps", 33))
        variant, n, a = spyx_variant(g, dt, args.exact_decay)
        d = int(np.asarray(g.nodes["input"].input_type["input"]).reshape(-1)[0])
        with contextlib.redirect_stdout(sys.stderr):  # spyx prints "[INFO] ..." lines
            model, _ = spyx_nir.from_nir(variant, jnp.zeros((k, 1, d), jnp.float32), dt=dt)
        kinds = [type(m).__name__ for m in model.layers]
        if kinds != ["Linear", "Linear", "RCuBaLIF", "Linear", "PSU_LIF"]:
            raise ValueError(f"unexpected Spyx layers {kinds}")
        ro_idx = next(i for i, m in enumerate(model.layers) if isinstance(m, PSU_LIF))
        rec = next(m for m in model.layers if isinstance(m, RCuBaLIF))
        assert rec.recurrent_w[...].shape == (n, n)
    except Exception as e:  # noqa: BLE001
        die(2, f"loading {args.policy} into spyx failed: {type(e).__name__}: {e}")

    graphdef, params = nnx.split(model)

    @jax.jit
    def env_step(params, state, x):
        m = nnx.merge(graphdef, params)
        xs = jnp.broadcast_to(x[None, None, :], (k, 1, d))
        _, state = run(m, xs, state)
        return state, state[ro_idx][0]  # readout after the K-th substep

    def fresh():
        return model.initial_state(1)

    if args.transcript:
        episodes = read_transcript(args.transcript)
    else:
        rng = np.random.default_rng(args.seed)
        xs = rng.uniform(-1, 1, (args.steps, d)).astype(np.float32)
        episodes = [(0, [{"x": x.tolist()} for x in xs])]

    steps, agree, compared, max_diff = 0, 0, 0, None
    kind = None
    for _, recs in episodes:
        state = fresh()
        for rec in recs:
            x = np.asarray(rec["x"], np.float32).reshape(-1)
            if x.shape != (d,):
                die(4, f"record {rec.get('episode')}/{rec.get('step')}: x has shape {x.shape}, want ({d},)")
            state, out = env_step(params, state, jnp.asarray(x))
            out = np.asarray(out, np.float64)
            steps += 1
            if out.shape != (a,) or not np.all(np.isfinite(out)):
                print(json.dumps({"error": f"output shape {list(out.shape)} want [{a}] or not finite",
                                  "steps": steps}))
                sys.exit(3)
            if "out" in rec:
                ref = np.asarray(rec["out"], np.float64).reshape(-1)
                if ref.shape == out.shape:
                    diff = float(np.max(np.abs(ref - out)))
                    max_diff = diff if max_diff is None else max(max_diff, diff)
            if rec.get("action") is not None:
                act = rec["action"]
                if isinstance(act, list) and len(act) == 1 and a > 1:
                    act = act[0]
                if isinstance(act, (list, tuple)):  # continuous
                    kind = "continuous"
                    ok = np.all(np.abs(np.clip(out, -1, 1) - np.asarray(act, np.float64)) <= 1e-3)
                else:  # discrete
                    kind = "discrete"
                    ok = int(np.argmax(out)) == int(act)
                agree += int(ok)
                compared += 1

    print(json.dumps({
        "framework": "spyx",
        "version": pkg_version("spyx"),
        "steps": steps,
        "output_shape": [a],
        "action_agreement": (agree / compared) if compared else None,
        "max_abs_out_diff": max_diff,
        "action_kind": kind,
        "episodes": len(episodes),
        "dt": dt,
        "substeps": k,
        "decay": "exp(-dt/tau) via tau'" if args.exact_decay else "euler 1-dt/tau (spyx)",
        "variant": "syn folded into CubaLIF<->w_h; readout LI moved after w_out*sigma",
        "jax": jax.__version__,
        "nir": pkg_version("nir"),
    }))


if __name__ == "__main__":
    main()
