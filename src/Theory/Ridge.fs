/// Seed 000 Q1: the Bayes risk of ridge regression in a teacher–student setup, and its minimiser.
module Dsl.Theory.Ridge

open System
open MathNet.Numerics.LinearAlgebra

/// One configuration: d features, N samples, ridge μ, teacher scale σ_w, noise σ_ε, Monte Carlo draws, seed.
type Case = { D: int; N: int; Mu: float; SigmaW: float; SigmaEps: float; Draws: int; Seed: int }

let describe (c: Case) = sprintf "d=%d N=%d μ=%.3g σ_w=%.3g σ_ε=%.3g draws=%d seed=%d" c.D c.N c.Mu c.SigmaW c.SigmaEps c.Draws c.Seed

/// A random configuration (d ≤ 12, N ≤ 30, μ log-uniform in [0.01, 10]).
let random (r: Random) : Case = {
    D = Draw.int r 1 12
    N = Draw.int r 1 30
    Mu = Draw.logUniform r 0.01 10.0
    SigmaW = Draw.uniform r 0.2 3.0
    SigmaEps = Draw.uniform r 0.1 2.0
    Draws = 4000
    Seed = r.Next()
}

/// The design X (N × d) with standard normal entries.
let design (c: Case) (r: Random) : Matrix<float> = Matrix<float>.Build.Dense(c.N, c.D, fun _ _ -> Draw.normal r)

/// Eigenvalues λᵢ of XᵀX (d of them, zeros included).
let eigenvalues (x: Matrix<float>) : float[] =
    (x.TransposeThisAndMultiply x).Evd(Symmetricity.Symmetric).EigenValues |> Seq.map (fun z -> max 0.0 z.Real) |> Array.ofSeq

/// The closed form R̄(w_μ) = Σᵢ ((σ_w²/d)μ² + σ_ε²λᵢ)/(λᵢ + μ)².
let bayesRisk (lambdas: float[]) (d: int) (mu: float) (sw: float) (se: float) =
    lambdas |> Array.sumBy (fun l -> ((sw * sw / float d) * mu * mu + se * se * l) / ((l + mu) * (l + mu)))

/// Its derivative in μ: Σᵢ 2λᵢ((σ_w²/d)μ − σ_ε²)/(λᵢ + μ)³.
let bayesRiskDerivative (lambdas: float[]) (d: int) (mu: float) (sw: float) (se: float) =
    lambdas |> Array.sumBy (fun l -> 2.0 * l * ((sw * sw / float d) * mu - se * se) / ((l + mu) ** 3.0))

/// Monte Carlo risks ‖w_μ − w_true‖², one array per μ, over the same draws of w_true ~ N(0, σ_w²/d·I) and
/// ε ~ N(0, σ_ε²·I) (common random numbers), with w_μ = (XᵀX + μI)⁻¹Xᵀ(X·w_true + ε).
let risks (x: Matrix<float>) (mus: float[]) (c: Case) (r: Random) : float[][] =
    let w = Matrix<float>.Build.Dense(c.D, c.Draws, fun _ _ -> Draw.normal r * c.SigmaW / sqrt (float c.D))
    let e = Matrix<float>.Build.Dense(c.N, c.Draws, fun _ _ -> Draw.normal r * c.SigmaEps)
    let xty = x.TransposeThisAndMultiply(x * w + e)
    let h = x.TransposeThisAndMultiply x
    mus
    |> Array.map (fun mu ->
        let wMu = (h + Matrix<float>.Build.DenseIdentity(c.D) * mu).Cholesky().Solve(xty)
        (wMu - w).ColumnNorms(2.0).ToArray() |> Array.map (fun v -> v * v))

/// The Bayes risk for this case: closed form against the Monte Carlo mean within k·SE.
let check (family: int) (c: Case) : Verdict =
    let r = Random(c.Seed)
    let x = design c r
    let closed = bayesRisk (eigenvalues x) c.D c.Mu c.SigmaW c.SigmaEps
    let m, se = Stats.meanSe (risks x [| c.Mu |] c r).[0]
    Verdict.monteCarlo "R̄(w_μ)" (Tolerance.familyWise family) closed m se c.Draws

/// Golden-section minimiser of f on [lo, hi] (f unimodal there).
let private goldenMin (f: float -> float) (lo: float) (hi: float) =
    let g = (sqrt 5.0 - 1.0) / 2.0
    let rec go a b i =
        if i = 0 || b - a < 1e-12 then
            (a + b) / 2.0
        else
            let c, d = b - g * (b - a), a + g * (b - a)
            if f c < f d then go a d (i - 1) else go c b (i - 1)
    go lo hi 200

/// The corollary: R̄ is minimised at μ* = dσ_ε²/σ_w² for every X. Checked three ways: the closed-form
/// derivative vanishes at μ* and changes sign there; a golden-section search of the closed form over
/// log μ lands on μ*; and Monte Carlo differences R(μ) − R(μ*) at μ*/4 and 4μ* (common random numbers)
/// are positive and agree with the closed form within k·SE.
let checkOptimum (family: int) (c: Case) : Verdict =
    let r = Random(c.Seed)
    let x = design c r
    let lam = eigenvalues x
    let muStar = float c.D * c.SigmaEps * c.SigmaEps / (c.SigmaW * c.SigmaW)
    let risk mu = bayesRisk lam c.D mu c.SigmaW c.SigmaEps
    let deriv mu = bayesRiskDerivative lam c.D mu c.SigmaW c.SigmaEps
    let scale = lam |> Array.sumBy (fun l -> 2.0 * l * c.SigmaEps * c.SigmaEps / ((l + muStar) ** 3.0))
    let muHat = exp (goldenMin (fun t -> risk (exp t)) (log muStar - 8.0) (log muStar + 8.0))
    let signs =
        if deriv (muStar / 2.0) < 0.0 && deriv (2.0 * muStar) > 0.0 then
            Verdict.exact "R̄'(μ*)" 0.0 (deriv muStar) (Tolerance.rounding (4 * lam.Length) scale) lam.Length
        else
            Verdict.fail "sign of R̄' around μ*" 1.0 0.0 (sprintf "R̄'(μ*/2) = %g, R̄'(2μ*) = %g" (deriv (muStar / 2.0)) (deriv (2.0 * muStar)))
    let golden = Verdict.exact "argmin_μ R̄ (golden section)" muStar muHat (1e-4 * muStar) 200
    let k = Tolerance.familyWise (2 * family)
    let rs = risks x [| muStar / 4.0; muStar; 4.0 * muStar |] c r
    let mc i mu =
        let diffs = Array.map2 (-) rs.[i] rs.[1]
        let m, se = Stats.meanSe diffs
        let closed = risk mu - risk muStar
        if closed <= 0.0 then Verdict.fail (sprintf "R̄(%g) − R̄(μ*)" mu) 1.0 closed "not positive" else Verdict.monteCarlo (sprintf "R(%.3g) − R(μ*)" mu) k closed m se c.Draws
    Verdict.headline [ golden; signs; mc 0 (muStar / 4.0); mc 2 (4.0 * muStar) ] |> Verdict.note (sprintf "μ* = dσ_ε²/σ_w² = %.4g" muStar)

/// Claim 1: the Bayes risk formula.
let claim: Claim = {
    Id = "1"
    Name = "Ridge Bayes risk"
    Source = "seed 000 Q1"
    Statement = "R̄(w_μ) = Σᵢ ((σ_w²/d)μ² + σ_ε²λᵢ)/(λᵢ+μ)² for w_true ~ N(0, σ_w²/d·I), ε ~ N(0, σ_ε²I), λᵢ the eigenvalues of XᵀX"
    Check = fun () -> Sweep.run 25 101 random describe check
}

/// Claim 1b: the optimal ridge.
let claimOptimum: Claim = {
    Id = "1b"
    Name = "Ridge optimum μ* = dσ_ε²/σ_w²"
    Source = "seed 000 Q1 (corollary)"
    Statement = "for every X the Bayes risk R̄(w_μ) is minimised at μ* = dσ_ε²/σ_w²"
    Check = fun () -> Sweep.run 25 102 random describe checkOptimum
}
