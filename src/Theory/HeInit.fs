/// Seed 000 Q4: He initialisation. (a) For symmetric u, E[ReLU(u)²] = Var(u)/2; (b) across depth, the
/// pre-activation second moment of a ReLU net is multiplied by σ²d/2 per layer, so σ = √(2/d) keeps it
/// constant, σ = √(1/d) halves it and σ = 1 multiplies it by d/2.
module Dsl.Theory.HeInit

open System
open MathNet.Numerics.Distributions
open Dsl.Engine

/// Symmetric distributions (about 0) with known variance.
type Dist =
    | Gaussian of sd: float
    | Uniform of halfWidth: float
    | LaplaceD of scale: float
    | StudentT of dof: float * scale: float
    | Rademacher of size: float
    | Mixture of offset: float * sd: float

let describeDist (d: Dist) =
    match d with
    | Gaussian s -> sprintf "N(0, %.3g²)" s
    | Uniform a -> sprintf "U(−%.3g, %.3g)" a a
    | LaplaceD b -> sprintf "Laplace(0, %.3g)" b
    | StudentT(nu, s) -> sprintf "%.3g·t(%.3g)" s nu
    | Rademacher s -> sprintf "±%.3g" s
    | Mixture(m, s) -> sprintf "½N(−%.3g, %.3g²) + ½N(%.3g, %.3g²)" m s m s

/// The variance of each distribution, from its formula.
let variance (d: Dist) =
    match d with
    | Gaussian s -> s * s
    | Uniform a -> a * a / 3.0
    | LaplaceD b -> 2.0 * b * b
    | StudentT(nu, s) -> s * s * nu / (nu - 2.0)
    | Rademacher s -> s * s
    | Mixture(m, s) -> m * m + s * s

/// One draw.
let sample (r: Random) (d: Dist) =
    match d with
    | Gaussian s -> Normal.Sample(r, 0.0, s)
    | Uniform a -> ContinuousUniform.Sample(r, -a, a)
    | LaplaceD b -> Laplace.Sample(r, 0.0, b)
    | StudentT(nu, s) -> StudentT.Sample(r, 0.0, s, nu)
    | Rademacher s -> if r.Next 2 = 0 then s else -s
    | Mixture(m, s) -> (if r.Next 2 = 0 then m else -m) + Normal.Sample(r, 0.0, s)

/// A distribution and a sample size.
type SymmetricCase = { Dist: Dist; Samples: int; Seed: int }

let describeSymmetric (c: SymmetricCase) = sprintf "%s, n=%d, seed=%d" (describeDist c.Dist) c.Samples c.Seed

/// A random symmetric distribution (Student t with ≥ 6 degrees of freedom, so the estimate has a variance).
let randomSymmetric (r: Random) : SymmetricCase =
    let s = Draw.logUniform r 0.1 10.0
    let d =
        match r.Next 6 with
        | 0 -> Gaussian s
        | 1 -> Uniform s
        | 2 -> LaplaceD s
        | 3 -> StudentT(Draw.uniform r 6.0 15.0, s)
        | 4 -> Rademacher s
        | _ -> Mixture(s, Draw.uniform r 0.1 2.0 * s)
    { Dist = d; Samples = 20000; Seed = r.Next() }

/// (a) The sample mean of ReLU(u)² against Var(u)/2 within k·SE.
let checkSymmetric (family: int) (c: SymmetricCase) : Verdict =
    let r = Random(c.Seed)
    let xs = Array.init c.Samples (fun _ -> let u = sample r c.Dist in if u > 0.0 then u * u else 0.0)
    let m, se = Stats.meanSe xs
    Verdict.monteCarlo "E[ReLU(u)²]" (Tolerance.familyWise family) (variance c.Dist / 2.0) m se c.Samples

/// A ReLU net: equal widths d, L layers, `Nets` independent networks (each with its own inputs) of
/// `Batch` standard normal inputs each.
type DepthCase = { Width: int; Depth: int; Nets: int; Batch: int; Seed: int }

let describeDepth (c: DepthCase) = sprintf "d=%d L=%d nets=%d batch=%d seed=%d" c.Width c.Depth c.Nets c.Batch c.Seed

let randomDepth (r: Random) : DepthCase = { Width = Draw.int r 32 192; Depth = Draw.int r 2 10; Nets = 24; Batch = 8; Seed = r.Next() }

/// Per net: mean(x₀²) of the inputs, and per layer the pre-activation second moment mean(u_l²), for
/// weights N(0, σ²) (float32, engine).
let secondMoments (c: DepthCase) (sigma: float) (seed: int64) : float[] * float[][] =
    use g = new Generator(seed)
    let runs =
        Array.init c.Nets (fun _ ->
            Engine.scoped (fun () ->
                let d = int64 c.Width
                let mutable x = Torch.Randn([| int64 c.Batch; d |], g)
                let m0 = x.Square().Mean().ToDouble()
                m0,
                Array.init c.Depth (fun _ ->
                    let w = Torch.Empty([| d; d |]).Normal_(0.0, sigma, g)
                    let u = Functional.Linear(x, w)
                    x <- Functional.Relu u
                    u.Square().Mean().ToDouble())))
    Array.map fst runs, Array.map snd runs

/// The three initialisations compared: name, σ², and the closed-form per-layer factor σ²d/2.
let settings (d: int) = [ "He σ=√(2/d)", 2.0 / float d; "σ=√(1/d)", 1.0 / float d; "σ=1", 1.0 ]

/// (b) For each setting, E[u_l²] = σ²d·(σ²d/2)^(l−1) for every layer l (inputs x ~ N(0, I)), checked
/// layer by layer within k·SE with the chain estimator (Stats.chainEstimate: E[u_l²/u_{l−1}²-ratio] is
/// exactly σ²d/2 by the sign symmetry of the weights, so the product of mean ratios is unbiased and
/// light-tailed, where the plain mean of u_l² is log-normal after a few narrow layers). The headline is He
/// at the last layer.
let checkDepth (family: int) (c: DepthCase) : Verdict =
    let d = float c.Width
    let perSetting =
        settings c.Width
        |> List.mapi (fun si (name, v) ->
            let m0, ms = secondMoments c (sqrt v) (int64 c.Seed * 7L + int64 si)
            let factor = v * d / 2.0
            let layers = [
                for l in 1 .. c.Depth ->
                    let closed = v * d * factor ** float (l - 1)
                    let est, seLog, dof = Stats.chainEstimate m0 ms l
                    Verdict.monteCarloLog (sprintf "%s: E[u_%d²]" name l) (Tolerance.student (family * 3 * c.Depth) dof) closed est seLog c.Nets
            ]
            let ratio = (Array.averageBy (fun (a: float[]) -> a.[c.Depth - 1]) ms) / (Array.averageBy (fun (a: float[]) -> a.[0]) ms)
            List.last layers |> Verdict.note (sprintf "%s: E[u_L²]/E[u_1²] = %.4g (closed form %.4g)" name ratio (factor ** float (c.Depth - 1))), Verdict.all layers)
    Verdict.headline ((perSetting |> List.map fst) @ (perSetting |> List.map snd))

let claimSymmetric: Claim = {
    Id = "4a"
    Name = "E[ReLU(u)²] = Var(u)/2"
    Source = "seed 000 Q4.1"
    Statement = "for u symmetric about 0, E[ReLU(u)²] = Var(u)/2 (Gaussian, uniform, Laplace, Student t, Rademacher, Gaussian mixture)"
    Check = fun () -> Sweep.run 24 401 randomSymmetric describeSymmetric checkSymmetric
}

let claimDepth: Claim = {
    Id = "4b"
    Name = "He init keeps E[u_l²] constant"
    Source = "seed 000 Q4.2"
    Statement = "in a ReLU net with N(0, σ²) weights, E[u_l²] is multiplied by σ²d/2 per layer: σ = √(2/d) keeps it constant, √(1/d) halves it, σ = 1 explodes (×d/2)"
    Check = fun () -> checkDepth 1 { Width = 256; Depth = 12; Nets = 40; Batch = 8; Seed = 402 }
}
