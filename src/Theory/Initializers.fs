/// Seed 000 Task 1 (and Q4): the engine's initialisers (Dsl.Engine.Init) have the means and variances
/// their formulas state, with PyTorch's fans (fan_in = C_in·k_h·k_w for a conv weight [C_out, C_in, k_h, k_w]).
module Dsl.Theory.Initializers

open System
open Dsl.Engine

/// An initialiser with its parameters.
type Kind =
    | Uniform of low: float * high: float
    | Normal of mean: float * std: float
    | XavierUniform of gain: float
    | XavierNormal of gain: float
    | KaimingUniform of a: float * mode: FanMode * nonlinearity: Nonlinearity
    | KaimingNormal of a: float * mode: FanMode * nonlinearity: Nonlinearity
    | LecunUniform
    | LecunNormal
    | TorchDefault
    | Orthogonal of gain: float

/// A weight shape ([out, in] or [out, in, kh, kw]), an initialiser and a seed.
type Case = { Kind: Kind; Shape: int64[]; Seed: int }

let describe (c: Case) = sprintf "%A on [%s], seed=%d" c.Kind (c.Shape |> Array.map string |> String.concat "×") c.Seed

/// fan_in and fan_out written out: in·∏k and out·∏k.
let fans (shape: int64[]) =
    let receptive = shape |> Array.skip 2 |> Array.fold (*) 1L
    float (shape.[1] * receptive), float (shape.[0] * receptive)

/// The recommended gains (as torch.nn.init.calculate_gain).
let gain (nl: Nonlinearity) (a: float) =
    match nl with
    | Nonlinearity.Tanh -> 5.0 / 3.0
    | Nonlinearity.Relu -> sqrt 2.0
    | Nonlinearity.LeakyRelu -> sqrt (2.0 / (1.0 + a * a))
    | Nonlinearity.Selu -> 0.75
    | _ -> 1.0

/// The closed-form mean and variance of each initialiser's entries.
let moments (c: Case) : float * float =
    let fi, fo = fans c.Shape
    let fan mode = if mode = FanMode.FanIn then fi else fo
    match c.Kind with
    | Uniform(lo, hi) -> (lo + hi) / 2.0, (hi - lo) * (hi - lo) / 12.0
    | Normal(m, s) -> m, s * s
    | XavierUniform g
    | XavierNormal g -> 0.0, g * g * 2.0 / (fi + fo)
    | KaimingUniform(a, mode, nl)
    | KaimingNormal(a, mode, nl) -> 0.0, gain nl a ** 2.0 / fan mode
    | LecunUniform
    | LecunNormal -> 0.0, 1.0 / fi
    | TorchDefault -> 0.0, 1.0 / (3.0 * fi)
    | Orthogonal g ->
        let rows = float c.Shape.[0]
        let cols = (c.Shape |> Array.fold (*) 1L |> float) / rows
        0.0, g * g * min rows cols / (rows * cols)

/// Fills a new float32 tensor of the case's shape with the engine's initialiser.
let fill (c: Case) (g: Generator) : Tensor =
    let t = Torch.Empty(c.Shape)
    match c.Kind with
    | Uniform(lo, hi) -> Init.Uniform(t, lo, hi, g)
    | Normal(m, s) -> Init.Normal(t, m, s, g)
    | XavierUniform gn -> Init.XavierUniform(t, gn, g)
    | XavierNormal gn -> Init.XavierNormal(t, gn, g)
    | KaimingUniform(a, mode, nl) -> Init.KaimingUniform(t, a, mode, nl, g)
    | KaimingNormal(a, mode, nl) -> Init.KaimingNormal(t, a, mode, nl, g)
    | LecunUniform -> Init.LecunUniform(t, g)
    | LecunNormal -> Init.LecunNormal(t, g)
    | TorchDefault -> Init.KaimingUniform(t, sqrt 5.0, FanMode.FanIn, Nonlinearity.LeakyRelu, g)
    | Orthogonal gn -> Init.Orthogonal(t, gn, g)

/// A random case: a dense [out, in] or conv [out, in, kh, kw] shape with at least 4,000 entries.
let rec random (r: Random) : Case =
    let shape =
        if r.Next 2 = 0 then
            [| int64 (Draw.int r 8 300); int64 (Draw.int r 8 300) |]
        else
            [| int64 (Draw.int r 4 64); int64 (Draw.int r 1 32); int64 (Draw.int r 1 5); int64 (Draw.int r 1 5) |]
    if Array.fold (*) 1L shape < 4000L then
        random r
    else
        let nl = Draw.pick r [| Nonlinearity.Linear; Nonlinearity.Conv; Nonlinearity.Sigmoid; Nonlinearity.Tanh; Nonlinearity.Relu; Nonlinearity.LeakyRelu; Nonlinearity.Selu |]
        let mode = if r.Next 2 = 0 then FanMode.FanIn else FanMode.FanOut
        let a = Draw.uniform r 0.0 3.0
        let kind =
            match r.Next 10 with
            | 0 -> let lo = Draw.uniform r -2.0 1.0 in Uniform(lo, lo + Draw.uniform r 0.1 3.0)
            | 1 -> Normal(Draw.uniform r -1.0 1.0, Draw.uniform r 0.01 2.0)
            | 2 -> XavierUniform(Draw.uniform r 0.5 2.0)
            | 3 -> XavierNormal(Draw.uniform r 0.5 2.0)
            | 4 -> KaimingUniform(a, mode, nl)
            | 5 -> KaimingNormal(a, mode, nl)
            | 6 -> LecunUniform
            | 7 -> LecunNormal
            | 8 -> TorchDefault
            | _ -> Orthogonal(Draw.uniform r 0.5 2.0)
        { Kind = kind; Shape = shape; Seed = r.Next() }

/// Sample mean and variance (about the closed-form mean) within k·SE, and Init.Fans = (in·∏k, out·∏k)
/// exactly. Orthogonal matrices are deterministic in their sum of squares (gain²·min(rows, cols)), so
/// that is checked exactly (float32 rounding) instead of by standard errors.
let check (family: int) (c: Case) : Verdict =
    Engine.scoped (fun () ->
        use g = new Generator(int64 c.Seed)
        let w = Engine.values (fill c g)
        let n = w.Length
        let mean, var = moments c
        let struct (fi, fo) = Init.Fans c.Shape
        let fansV = Verdict.exact "Init.Fans vs (in·∏k, out·∏k)" 0.0 (abs (float fi - fst (fans c.Shape)) + abs (float fo - snd (fans c.Shape))) 0.0 1
        match c.Kind with
        | Orthogonal _ ->
            let ss = w |> Array.sumBy (fun v -> v * v)
            let closed = var * float n
            // float32 QR: each row (or column) norm is exact to about 8·max(rows, cols)·ε₃₂.
            let tol = 8.0 * float (Array.max [| c.Shape.[0]; int64 n / c.Shape.[0] |]) * 1.1920929e-7 * closed
            Verdict.headline [ Verdict.exact "Σ w² (orthogonal)" closed ss tol n; fansV ]
        | _ ->
            let k = Tolerance.familyWise (2 * family)
            let m, seM = Stats.meanSe w
            let v, seV = Stats.meanSe (w |> Array.map (fun x -> (x - mean) * (x - mean)))
            Verdict.headline [ Verdict.monteCarlo "Var(w)" k var v seV n; Verdict.monteCarlo "E[w]" k mean m seM n; fansV ])

let claim: Claim = {
    Id = "5h"
    Name = "Engine initialisers have their variances"
    Source = "seed 000 Task 1.5–1.6"
    Statement =
        "Dsl.Engine.Init: uniform, normal, Xavier, Kaiming (fan_in/fan_out, every gain), LeCun, PyTorch default, orthogonal have the stated mean and variance; conv fan_in = C_in·k_h·k_w"
    Check = fun () -> Sweep.run 40 505 random describe check
}
