/// Sample statistics with standard errors: means, jackknife, least-squares slopes.
module Dsl.Theory.Stats

/// Mean of an array.
let mean (xs: float[]) = Array.average xs

/// Mean and its standard error (sample standard deviation / √n).
let meanSe (xs: float[]) : float * float =
    let n = float xs.Length
    let m = Array.average xs
    if xs.Length < 2 then
        m, nan
    else
        let v = (xs |> Array.sumBy (fun x -> (x - m) * (x - m))) / (n - 1.0)
        m, sqrt (v / n)

/// Standard error of a Bernoulli frequency estimate with success probability `p` over `n` trials.
let bernoulliSe (p: float) (n: int) = sqrt (p * (1.0 - p) / float n)

/// Largest absolute difference between two arrays of the same length.
let maxAbsDiff (a: float[]) (b: float[]) = if a.Length <> b.Length then infinity else Array.fold2 (fun m x y -> max m (abs (x - y))) 0.0 a b

/// An unbiased estimate of E[m_l] for a multiplicative chain (the second moment of a deep net's
/// activations), with the standard error of its logarithm. m0.[k] is replicate k's starting value and
/// ms.[k].[j−1] its value after step j. The estimate is m̄₀·Π_{j≤l} r̄_j with r̄_j the mean over replicates
/// of r_j = m_j/m_{j−1}: when E[r_j | past] = c_j, the tower property gives E[estimate] = E[m₀]·Π c_j
/// exactly, and, unlike the plain mean of m_l (log-normal, heavy-tailed after many layers), the factors
/// have light tails, so the standard error is trustworthy. The log-SE adds the factors' relative SEs in
/// quadrature (they are martingale differences, hence uncorrelated); its degrees of freedom follow
/// Welch–Satterthwaite. Returns (estimate, SE of log estimate, degrees of freedom).
let chainEstimate (m0: float[]) (ms: float[][]) (l: int) : float * float * float =
    let n = float m0.Length
    let m0bar, se0 = meanSe m0
    let vs = [
        yield (se0 / m0bar) ** 2.0
        for j in 1..l do
            let rs = Array.init m0.Length (fun k -> ms.[k].[j - 1] / (if j = 1 then m0.[k] else ms.[k].[j - 2]))
            let r, se = meanSe rs
            yield (se / r) ** 2.0
    ]
    let logEst = log m0bar + List.sum [ for j in 1..l -> log (Array.init m0.Length (fun k -> ms.[k].[j - 1] / (if j = 1 then m0.[k] else ms.[k].[j - 2])) |> Array.average) ]
    let var = List.sum vs
    let dof = var * var / (vs |> List.sumBy (fun v -> v * v / (n - 1.0)))
    exp logEst, sqrt var, dof
