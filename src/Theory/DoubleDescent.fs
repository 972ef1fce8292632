/// Seed 000 Q3: double descent of min-norm least squares. Features x ~ N(0, I_D), y = xᵀβ + σε with
/// βⱼ = 1/√D; the model fits the first p features by least squares (minimum-norm when p > N). The
/// expected test error has a closed form (Belkin, Hsu & Xu 2020, "Two models of double descent for weak
/// features"), infinite at the interpolation threshold p ∈ {N−1, N, N+1}:
///   p ≤ N−2:  (‖β_rest‖² + σ²)(1 + p/(N−p−1))
///   p ≥ N+2:  ‖β_p‖²(1 − N/p) + (‖β_rest‖² + σ²)(1 + N/(p−N−1))
module Dsl.Theory.DoubleDescent

open System
open System.IO
open System.Globalization
open MathNet.Numerics.LinearAlgebra

/// N training samples, D features in all, noise σ, Monte Carlo trials per p, seed.
type Case = { N: int; D: int; Sigma: float; Trials: int; Seed: int }

let describe (c: Case) = sprintf "N=%d D=%d σ=%.3g trials=%d seed=%d" c.N c.D c.Sigma c.Trials c.Seed

/// The closed-form expected test error E[(y − x_pᵀβ̂)²] with p features.
let closedForm (c: Case) (p: int) : float =
    let inside = float p / float c.D
    let s2 = 1.0 - inside + c.Sigma * c.Sigma
    if p <= c.N - 2 then s2 * (1.0 + float p / float (c.N - p - 1))
    elif p >= c.N + 2 then inside * (1.0 - float c.N / float p) + s2 * (1.0 + float c.N / float (p - c.N - 1))
    else infinity

/// The numbers of parameters tried: every p within 6 of N, every `step`-th p elsewhere, and D.
let grid (c: Case) (step: int) : int list = [ 1 .. c.D ] |> List.filter (fun p -> abs (p - c.N) <= 6 || p % step = 0 || p = 1 || p = c.D)

/// Least squares on the first p columns: the solution itself for p < N, the exact solve for p = N,
/// the minimum-norm interpolant Xᵀ(XXᵀ)⁻¹y for p > N.
let fit (x: Matrix<float>) (y: Vector<float>) (p: int) : Vector<float> =
    let n = x.RowCount
    let xp = x.SubMatrix(0, n, 0, p)
    // Normal equations by Cholesky (fast); QR/LU if the Gram matrix is numerically not positive definite.
    let gramSolve (g: Matrix<float>) (b: Vector<float>) =
        try
            g.Cholesky().Solve(b)
        with :? ArgumentException ->
            g.LU().Solve(b)
    if p < n then
        (try
            (xp.TransposeThisAndMultiply xp).Cholesky().Solve(xp.TransposeThisAndMultiply y)
         with :? ArgumentException ->
             xp.QR().Solve(y))
    elif p = n then
        xp.LU().Solve(y)
    else
        xp.TransposeThisAndMultiply(gramSolve (xp.TransposeAndMultiply xp) y)

/// One point of the curve: p, the Monte Carlo mean test error and its SE, the closed form, and the
/// largest training MSE over the trials.
type Point = { P: int; TestError: float; StandardError: float; ClosedForm: float; TrainError: float }

/// The Monte Carlo curve over `ps`. Each trial draws one training set (X, ε) and fits every p on it; the
/// test error of a fit is computed exactly from β̂: ‖β_p − β̂‖² + ‖β_rest‖² + σ².
let curve (c: Case) (ps: int list) : Point list =
    let r = Random(c.Seed)
    let beta = 1.0 / sqrt (float c.D)
    let tests = ps |> List.map (fun _ -> Array.zeroCreate c.Trials) |> Array.ofList
    let trains = ps |> List.map (fun _ -> Array.zeroCreate c.Trials) |> Array.ofList
    for t in 0 .. c.Trials - 1 do
        let x = Matrix<float>.Build.Dense(c.N, c.D, fun _ _ -> Draw.normal r)
        let y = x.RowSums() * beta + Vector<float>.Build.Dense(c.N, fun _ -> c.Sigma * Draw.normal r)
        ps
        |> List.iteri (fun i p ->
            let b = fit x y p
            let err = b |> Seq.sumBy (fun v -> (v - beta) * (v - beta))
            tests.[i].[t] <- err + float (c.D - p) * beta * beta + c.Sigma * c.Sigma
            let resid = y - x.SubMatrix(0, c.N, 0, p) * b
            trains.[i].[t] <- resid.DotProduct resid / float c.N)
    ps
    |> List.mapi (fun i p ->
        let m, se = Stats.meanSe tests.[i]
        { P = p; TestError = m; StandardError = se; ClosedForm = closedForm c p; TrainError = Array.max trains.[i] })

/// Where the closed form's variance is finite enough for a standard error: |p − N| ≥ 8 (the fourth
/// moment of the inverse-Wishart terms exists there).
let comparable (c: Case) (p: int) = abs (p - c.N) >= 8

/// The checks on a computed curve: (1) the test-error peak found automatically (argmax over p) lies
/// within 2 of p = N, where the closed form is infinite; (2) the interpolation threshold (the smallest p
/// whose training error vanishes) is N; (3) the Monte Carlo test error agrees with the closed form within
/// k·SE at every p with |p − N| ≥ 8.
let checkCurve (family: int) (c: Case) (points: Point list) : Verdict =
    let peak = points |> List.maxBy (fun pt -> pt.TestError)
    let yScale = 1.0 + c.Sigma * c.Sigma
    let threshold = points |> List.tryFind (fun pt -> pt.TrainError < 1e-18 * yScale) |> Option.map (fun pt -> pt.P) |> Option.defaultValue -1
    let compared = points |> List.filter (fun pt -> comparable c pt.P)
    let k = Tolerance.familyWise (family * max 1 compared.Length)
    let mc = compared |> List.map (fun pt -> Verdict.monteCarlo (sprintf "test error at p=%d" pt.P) k pt.ClosedForm pt.TestError pt.StandardError c.Trials)
    let peakV = Verdict.exact "argmax_p test error (peak)" (float c.N) (float peak.P) 2.0 points.Length
    let thresholdV = Verdict.exact "smallest p with zero training error" (float c.N) (float threshold) 0.0 points.Length
    Verdict.headline [ peakV; thresholdV; Verdict.all mc ]
    |> Verdict.note (sprintf "peak test error %.4g at p=%d; %d points compared with the closed form" peak.TestError peak.P compared.Length)

/// The whole check for a case (grid step 3).
let check (family: int) (c: Case) : Verdict = checkCurve family c (curve c (grid c 3))

/// A random smaller case for property tests (N ∈ [10, 24], D = 3N).
let random (r: Random) : Case =
    let n = Draw.int r 10 24
    { N = n; D = 3 * n; Sigma = Draw.uniform r 0.1 0.6; Trials = 120; Seed = r.Next() }

/// The case shown in the example: N = 40 samples, D = 120 features, σ = 0.3, 200 trials.
let standardCase = { N = 40; D = 120; Sigma = 0.3; Trials = 200; Seed = 301 }

/// The standard curve, computed once.
let standard = lazy (curve standardCase (grid standardCase 2))

/// Writes the standard curve as CSV and SVG into `dir`; returns the two paths.
let save (dir: string) : string * string =
    Directory.CreateDirectory dir |> ignore
    let c = standardCase
    let pts = standard.Force()
    let csv = Path.Combine(dir, "double_descent.csv")
    let inv (x: float) = x.ToString("R", CultureInfo.InvariantCulture)
    let lines = [
        yield "p,test_error_mc,standard_error,closed_form,max_train_mse"
        for pt in pts ->
            sprintf "%d,%s,%s,%s,%s" pt.P (inv pt.TestError) (inv pt.StandardError) (if Double.IsInfinity pt.ClosedForm then "inf" else inv pt.ClosedForm) (inv pt.TrainError)
    ]
    Dsl.Engine.IO.AtomicFile.WriteAllText(csv, String.concat "\n" lines + "\n")
    let svg = Path.Combine(dir, "double_descent.svg")
    let closed = [
        for p in 1 .. c.D do
            let v = closedForm c p in if not (Double.IsInfinity v) then yield float p, v
    ]
    Dsl.Plot.lines
        {
            Dsl.LinesPlot.Default with
                Title = sprintf "Double descent: min-norm least squares, N = %d, D = %d, σ = %g (%d trials per p)" c.N c.D c.Sigma c.Trials
                XLabel = "number of parameters p"
                YLabel = "test error (log scale)"
                LogY = true
                VerticalLines = [ float c.N, "p = N (interpolation threshold)" ]
        }
        svg
        [
            { Label = "closed form (Belkin–Hsu–Xu)"; Color = Some "#1f77b4"; Style = Dsl.SeriesStyle.Line; Points = closed |> List.filter (fun (p, _) -> p < float c.N) }
            { Label = ""; Color = Some "#1f77b4"; Style = Dsl.SeriesStyle.Line; Points = closed |> List.filter (fun (p, _) -> p > float c.N) }
            { Label = "Monte Carlo mean"; Color = Some "#d62728"; Style = Dsl.SeriesStyle.Markers; Points = [ for pt in pts -> float pt.P, pt.TestError ] }
        ]
    csv, svg

let claim: Claim = {
    Id = "3"
    Name = "Double descent (min-norm least squares)"
    Source = "seed 000 Q3"
    Statement = "test error vs p for fixed N peaks at the interpolation threshold p = N and descends again beyond it"
    Check = fun () -> checkCurve 1 standardCase (standard.Force())
}
