/// Seed 000 Q1–Q6 (Task 1 is in Task1Tests): each claim as a property over random sizes and parameters.
module Dsl.Theory.Tests.Seed000Tests

open FsCheck
open FsCheck.FSharp
open NUnit.Framework
open FsCheck.NUnit
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

// ---------------------------------------------------------------- Q1 ridge

[<Property(MaxTest = 100)>]
let ``1 the ridge Bayes risk equals its closed form (Monte Carlo within k·SE)`` () =
    Prop.forAll G.ridge (fun c -> verified (Ridge.check 100 c))

[<Property(MaxTest = 100)>]
let ``1b the Bayes risk is minimised at mu* = d sigma_eps^2 / sigma_w^2 for every X`` () =
    Prop.forAll G.ridge (fun c -> verified (Ridge.checkOptimum 100 c))

// ---------------------------------------------------------------- Q2 guess and check

[<Property(MaxTest = 100)>]
let ``2a P(w = w*) = q^-k by simulation`` () =
    Prop.forAll (G.tinyArch 2000.0) (fun c -> verified (GuessAndCheck.checkExactHit 100 c))

[<Property(MaxTest = 100)>]
let ``2b p* >= q^-(d0 d1* + d1) by exhaustive enumeration`` () =
    Prop.forAll (G.tinyArch 3000.0) (fun c -> verified (GuessAndCheck.checkPStar 100 c))

[<Property(MaxTest = 50)>]
let ``2c the simulated stopping time is geometric and obeys floor T <= log P(t > T) / log(1 - p*)`` () =
    Prop.forAll (G.tinyArch 3000.0) (fun c -> verified (GuessAndCheck.checkStoppingTime 50 c))

[<Property(MaxTest = 1000)>]
let ``2d bound (3) is below bound (4) whenever d1* < d1`` () =
    Prop.forAll G.sizes (fun s -> verified (GuessAndCheck.checkBounds 1000 s))

[<Test>]
let ``2d at d1* = d1 the two bounds coincide`` () =
    let s : GuessAndCheck.Sizes = { D0 = 3; D1 = 5; D1Star = 5; Q = 7; N = 1000; Delta = 0.05 }
    Assert.That(GuessAndCheck.bound3 s, Is.EqualTo(GuessAndCheck.bound4 s).Within(1e-15))

[<Test>]
let ``2e with |F| counting distinct functions bound (3) loses on a one-input network`` () =
    let c = counterexample (GuessAndCheck.distinctCounterexample ())
    Assert.That(c.Input, Does.StartWith("d₀=1 d₁=1 d₁*=0 q=5"))
    Assert.That(c.Claimed, Is.EqualTo 5.0)
    Assert.That(c.Actual, Is.EqualTo 5.0)
    Assert.That(c.Note, Does.Contain("d₀=1 d₁=2 d₁*=1 q=3, q^(d₀d₁*+d₁) = 27 > |F| = 9"))

[<Test>]
let ``2 the probes decide function equality: networks equal on them agree on random real inputs`` () =
    let a : GuessAndCheck.Arch = { D0 = 2; D1 = 2; Q = 3 }
    let ps = GuessAndCheck.probes a
    let r = System.Random 7
    let nets = [| for i in 0L .. 728L -> GuessAndCheck.decode a i |]
    let groups = nets |> Array.groupBy (fun w -> System.String(GuessAndCheck.signature a ps w |> Array.map (fun s -> char (int s + 66))))
    let realOut (w: int[]) (x: float[]) =
        let h j = max 0.0 (float w.[2 * j] * x.[0] + float w.[2 * j + 1] * x.[1])
        sign (float w.[4] * h 0 + float w.[5] * h 1)
    for _, members in groups do
        for _ in 1 .. 20 do
            let x = [| r.NextDouble() * 2.0 - 1.0; r.NextDouble() * 2.0 - 1.0 |]
            let outs = members |> Array.map (fun w -> realOut w x) |> Array.distinct
            Assert.That(outs.Length, Is.EqualTo 1, sprintf "networks with one signature disagree at %A" x)

// ---------------------------------------------------------------- Q3 double descent

[<Property(MaxTest = 12)>]
let ``3 the test error peaks at p = N, interpolation starts at N, and matches the closed form elsewhere`` () =
    Prop.forAll G.doubleDescent (fun c -> verified (DoubleDescent.check 12 c))

// ---------------------------------------------------------------- Q4 He initialisation

[<Property(MaxTest = 100)>]
let ``4a E[ReLU(u)^2] = Var(u)/2 for symmetric u`` () =
    Prop.forAll G.symmetric (fun c -> verified (HeInit.checkSymmetric 100 c))

[<Property(MaxTest = 25)>]
let ``4b the pre-activation second moment is multiplied by sigma^2 d / 2 per layer`` () =
    Prop.forAll G.depth (fun c -> verified (HeInit.checkDepth 25 c))

[<Test>]
let ``4a an asymmetric u breaks the identity (the check is not vacuous)`` () =
    // u = |z|: E[ReLU(u)²] = E[z²] = 1 but Var(u) = 1 − 2/π, so Var/2 = 0.18.
    let r = System.Random 3
    let xs = Array.init 20000 (fun _ -> let u = abs (Draw.normal r) in u * u)
    let m, se = Stats.meanSe xs
    Assert.That(Verdict.isVerified (Verdict.monteCarlo "E[ReLU(|z|)²]" 4.0 ((1.0 - 2.0 / System.Math.PI) / 2.0) m se 20000), Is.False)

// ---------------------------------------------------------------- Q5 equivariance

[<Property(MaxTest = 100)>]
let ``6a W averaged over the group gives an equivariant f`` () =
    Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkSufficient 100 c))

[<Property(MaxTest = 100)>]
let ``6b every W violating the condition has a witness x`` () =
    Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkNecessary 100 c))

[<Property(MaxTest = 100)>]
let ``6c cyclic-equivariant W are the circulant matrices, i.e. circular conv1d`` () =
    Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkCirculant 100 { c with Group = Equivariance.Cyclic }))

[<Property(MaxTest = 100)>]
let ``6d the equivariant W have dimension = Burnside's orbit count on pairs`` () =
    Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkDimension 100 c))

[<Test>]
let ``6 group orders: cyclic n, dihedral 2n, symmetric n!`` () =
    for n in 3 .. 6 do
        Assert.That((Equivariance.elements Equivariance.Cyclic n).Length, Is.EqualTo n)
        Assert.That((Equivariance.elements Equivariance.Dihedral n).Length, Is.EqualTo(2 * n))
        Assert.That((Equivariance.elements Equivariance.Symmetric n).Length, Is.EqualTo(List.fold (*) 1 [ 1 .. n ]))

// ---------------------------------------------------------------- Q6 VGG

[<Property(MaxTest = 100)>]
let ``7 small VGG-like nets: the DSL summary equals the closed-form shapes and counts`` () =
    Prop.forAll G.vggSmall (fun c -> verified (Vgg.checkSmall 100 c))

[<Test>]
let ``7 VGG-11 has 132,863,336 parameters, 93.06% of them in the FC layers`` () =
    let rows = Vgg.standard.Force()
    Assert.That(rows |> List.sumBy (fun r -> r.Params), Is.EqualTo 132863336L)
    Assert.That(System.Math.Round(Vgg.fcShare Vgg.vgg11 rows, 2), Is.EqualTo 93.06)
    let row label = rows |> List.find (fun r -> r.Label = label)
    Assert.That((row "CONV3-64").Params, Is.EqualTo 1792L)
    Assert.That((row "CONV3-64").Output, Is.EqualTo "224x224x64")
    Assert.That((row "FC-4096").Params, Is.EqualTo 102764544L)
    Assert.That((rows |> List.filter (fun r -> r.Label = "POOL2") |> List.last).Output, Is.EqualTo "7x7x512")
    Assert.That((row "FC-1000").Params, Is.EqualTo 4097000L)
    Assert.That(verified (Vgg.checkRows rows))
