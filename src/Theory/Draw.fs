/// Seeded random draws for the experiments (System.Random with MathNet's samplers).
module Dsl.Theory.Draw

open System
open MathNet.Numerics.Distributions

/// A standard normal draw.
let normal (r: Random) = Normal.Sample(r, 0.0, 1.0)

/// n standard normal draws.
let normals (r: Random) (n: int) = Array.init n (fun _ -> normal r)

/// Uniform in [lo, hi).
let uniform (r: Random) (lo: float) (hi: float) = lo + (hi - lo) * r.NextDouble()

/// Log-uniform in [lo, hi).
let logUniform (r: Random) (lo: float) (hi: float) = exp (uniform r (log lo) (log hi))

/// Uniform integer in [lo, hi] (inclusive).
let int (r: Random) (lo: int) (hi: int) = r.Next(lo, hi + 1)

/// One element of a non-empty array.
let pick (r: Random) (xs: 'a[]) = xs.[r.Next xs.Length]

/// A uniformly random permutation of 0 … n−1.
let permutation (r: Random) (n: int) =
    let p = Array.init n id
    for i in n - 1 .. -1 .. 1 do
        let j = r.Next(i + 1)
        let t = p.[i]
        p.[i] <- p.[j]
        p.[j] <- t
    p

/// A fresh seed for a sub-experiment.
let seed (r: Random) = r.Next()
