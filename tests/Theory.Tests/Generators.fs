/// FsCheck generators for the claims' cases: random sizes and parameters in the ranges each claim is
/// stated for, each with a seed for the experiment's own randomness.
module Dsl.Theory.Tests.Generators

open System
open FsCheck
open FsCheck.FSharp
open Dsl.Engine
open Dsl.Theory

/// A seed.
let seed = Gen.choose (0, Int32.MaxValue - 1)

/// A float uniform in [lo, hi] (on a grid of 10⁴ steps).
let uniform (lo: float) (hi: float) = Gen.choose (0, 10000) |> Gen.map (fun i -> lo + (hi - lo) * float i / 10000.0)

/// A float log-uniform in [lo, hi].
let logUniform (lo: float) (hi: float) = uniform (log lo) (log hi) |> Gen.map exp

let ridge =
    gen {
        let! d = Gen.choose (1, 12)
        let! n = Gen.choose (1, 30)
        let! mu = logUniform 0.01 10.0
        let! sw = uniform 0.2 3.0
        let! se = uniform 0.1 2.0
        let! s = seed
        return ({ D = d; N = n; Mu = mu; SigmaW = sw; SigmaEps = se; Draws = 3000; Seed = s }: Ridge.Case)
    }
    |> Arb.fromGen

/// Tiny guess-and-check architectures, enumerable (q^k ≤ limit).
let tinyArch (limit: float) =
    gen {
        let! d0 = Gen.choose (1, 2)
        let! d1 = Gen.choose (1, 4)
        let! q = Gen.elements [ 3; 5; 7 ]
        let! d1s = Gen.choose (0, d1 - 1)
        let! s = seed
        return ({ Arch = ({ D0 = d0; D1 = d1; Q = q }: GuessAndCheck.Arch); D1Star = d1s; Seed = s }: GuessAndCheck.Case)
    }
    |> Gen.filter (fun c -> GuessAndCheck.feasible c.Arch && float c.Arch.Q ** float (GuessAndCheck.paramCount c.Arch) <= limit)
    |> Arb.fromGen

let sizes =
    gen {
        let! d0 = Gen.choose (1, 64)
        let! d1 = Gen.choose (1, 256)
        let! d1s = Gen.choose (0, d1 - 1)
        let! q = Gen.choose (1, 127) |> Gen.map (fun h -> 2 * h + 1)
        let! n = Gen.choose (1, 1_000_000)
        let! delta = logUniform 1e-6 0.5
        return ({ D0 = d0; D1 = d1; D1Star = d1s; Q = q; N = n; Delta = delta }: GuessAndCheck.Sizes)
    }
    |> Arb.fromGen

let doubleDescent =
    gen {
        let! n = Gen.choose (10, 20)
        let! sigma = uniform 0.1 0.6
        let! s = seed
        // 300 trials: the test errors are heavy-tailed near small N, and at 100 trials a sample's own standard error
        // came out at half its usual size once in CI (N 14, p 3: 1.186 ± 0.016 against the closed form's 1.279, which
        // 2,000 trials confirm: 1.278 ± 0.007), failing a true claim.
        return ({ N = n; D = 3 * n; Sigma = sigma; Trials = 300; Seed = s }: DoubleDescent.Case)
    }
    |> Arb.fromGen

let symmetric =
    gen {
        let! s = logUniform 0.1 10.0
        let! kind = Gen.choose (0, 5)
        let! nu = uniform 6.0 15.0
        let! m = uniform 0.1 2.0
        let d =
            match kind with
            | 0 -> HeInit.Gaussian s
            | 1 -> HeInit.Uniform s
            | 2 -> HeInit.LaplaceD s
            | 3 -> HeInit.StudentT(nu, s)
            | 4 -> HeInit.Rademacher s
            | _ -> HeInit.Mixture(s, m * s)
        let! sd = seed
        return ({ Dist = d; Samples = 20000; Seed = sd }: HeInit.SymmetricCase)
    }
    |> Arb.fromGen

let depth =
    gen {
        let! w = Gen.choose (32, 128)
        let! l = Gen.choose (2, 10)
        let! s = seed
        return ({ Width = w; Depth = l; Nets = 24; Batch = 8; Seed = s }: HeInit.DepthCase)
    }
    |> Arb.fromGen

/// Small Task 1 studies: width 80–160, depth 44 (past the N(0,1) overflow, at 35–41 layers there), 32 nets
/// (with 12 the across-net spread is too heavy-tailed for its own standard error: a false refutation seen in CI).
let study =
    gen {
        let! w = Gen.choose (80, 160)
        let! s = seed
        return ({ Width = w; Depth = 44; Nets = 32; Batch = 4; Seed = s }: DeepStudy.Spec)
    }
    |> Arb.fromGen

/// Finite-width tanh experiments: width 96–128, depth d/4, 400 nets.
let tanhCase =
    gen {
        let! w = Gen.choose (96, 128)
        let! s = seed
        return ({ Width = w; Depth = w / 4; Nets = 400; Seed = s }: Task1.TanhCase)
    }
    |> Arb.fromGen

let product =
    gen {
        let! n = Gen.choose (8, 128)
        let! draws = Gen.choose (1000, 4000)
        let! s = seed
        return ({ N = n; Draws = draws; Seed = s }: Task1.ProductCase)
    }
    |> Arb.fromGen

/// Initialiser cases: the generator of the claim itself, driven by an FsCheck seed.
let initializer = seed |> Gen.map (fun s -> Initializers.random (Random s)) |> Arb.fromGen

let equivariance =
    gen {
        let! g = Gen.elements [ Equivariance.Cyclic; Equivariance.Dihedral; Equivariance.Symmetric ]
        let! n = if g = Equivariance.Symmetric then Gen.choose (2, 5) else Gen.choose (2, 9)
        let! phi = Gen.elements [ Equivariance.Tanh; Equivariance.LeakyRelu ]
        let! s = seed
        return ({ Group = g; N = n; Phi = phi; Seed = s }: Equivariance.Case)
    }
    |> Arb.fromGen

let vggSmall = seed |> Gen.map (fun s -> Vgg.random (Random s)) |> Arb.fromGen

let convCase = seed |> Gen.map (fun s -> ConvByHand.random (Random s)) |> Arb.fromGen

let tinyCnn =
    gen {
        let! g = Gen.elements [ TinyCnn.Sigmoid; TinyCnn.Tanh; TinyCnn.Identity ]
        let! s = seed
        return { TinyCnn.random (Random s) with G = g }
    }
    |> Arb.fromGen

let logits = seed |> Gen.map (fun s -> Softmax.random (Random s)) |> Arb.fromGen

let mlp =
    gen {
        let! n = Gen.choose (2, 64)
        let! h = Gen.choose (1, 32)
        let! c = Gen.choose (2, 6)
        let! b = Gen.choose (1, 16)
        let! s = seed
        return ({ Pixels = n; Hidden = h; Classes = c; Batch = b; Steps = 6; Seed = s }: PermutedPixels.Case)
    }
    |> Arb.fromGen

/// Simpler by-hand MLP cases: fewer hidden layers, narrower layers, fewer rows and steps, no momentum or
/// decay, the smallest rate and slope; the head and seed are kept (so a failure stays a failure of that head).
let shrinkMlpCase (c: MlpCheck.Case) : seq<MlpCheck.Case> =
    let minOut = if c.Head = MlpByHand.Regression then 1 else 2
    let sizes = Array.ofList c.Sizes
    let last = sizes.Length - 1
    seq {
        for i in 1 .. last - 1 -> { c with Sizes = List.ofArray (Array.removeAt i sizes) }
        for i in 0..last do
            let floor = if i = last then minOut else 1
            if sizes.[i] > floor then yield { c with Sizes = List.ofArray (Array.updateAt i (sizes.[i] - 1) sizes) }
        if c.Batch > 1 then yield { c with Batch = c.Batch - 1 }
        if c.Steps > 1 then yield { c with Steps = c.Steps - 1 }
        if c.Momentum <> 0.0 then yield { c with Momentum = 0.0 }
        if c.Decay <> 1.0 then yield { c with Decay = 1.0 }
        if c.Slope <> 0.01 then yield { c with Slope = 0.01 }
        if c.LearningRate <> 0.01 then yield { c with LearningRate = 0.01 }
    }

/// By-hand MLP cases of random shapes (MlpCheck.random from a seed) that shrink to smaller shapes.
let mlpByHand = Arb.fromGenShrink (seed |> Gen.map (fun s -> MlpCheck.random (Random s)), shrinkMlpCase)
