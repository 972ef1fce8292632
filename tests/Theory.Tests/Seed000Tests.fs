/// Seed 000 Q1–Q6 (Task 1 is in Task1Tests): each claim as a property over random sizes and parameters.
module Dsl.Theory.Tests.Seed000Tests

open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

/// This module's tests, the Expecto list "Seed000" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Seed000" [
        // ---------------------------------------------------------------- Q1 ridge
        testPropertyWithConfig (maxTest 100) "1 the ridge Bayes risk equals its closed form (Monte Carlo within k·SE)"
        <| fun () -> Prop.forAll G.ridge (fun c -> verified (Ridge.check 100 c))

        testPropertyWithConfig (maxTest 100) "1b the Bayes risk is minimised at mu* = d sigma_eps^2 / sigma_w^2 for every X"
        <| fun () -> Prop.forAll G.ridge (fun c -> verified (Ridge.checkOptimum 100 c))

        // ---------------------------------------------------------------- Q2 guess and check
        testPropertyWithConfig (maxTest 100) "2a P(w = w*) = q^-k by simulation"
        <| fun () -> Prop.forAll (G.tinyArch 2000.0) (fun c -> verified (GuessAndCheck.checkExactHit 100 c))

        testPropertyWithConfig (maxTest 100) "2b p* >= q^-(d0 d1* + d1) by exhaustive enumeration"
        <| fun () -> Prop.forAll (G.tinyArch 3000.0) (fun c -> verified (GuessAndCheck.checkPStar 100 c))

        testPropertyWithConfig (maxTest 50) "2c the simulated stopping time is geometric and obeys floor T <= log P(t > T) / log(1 - p*)"
        <| fun () -> Prop.forAll (G.tinyArch 3000.0) (fun c -> verified (GuessAndCheck.checkStoppingTime 50 c))

        testPropertyWithConfig (maxTest 1000) "2d bound (3) is below bound (4) whenever d1* < d1"
        <| fun () -> Prop.forAll G.sizes (fun s -> verified (GuessAndCheck.checkBounds 1000 s))

        testCase "2d at d1* = d1 the two bounds coincide"
        <| fun () ->
            let s: GuessAndCheck.Sizes = { D0 = 3; D1 = 5; D1Star = 5; Q = 7; N = 1000; Delta = 0.05 }
            Expect.floatClose (within 1e-15) (GuessAndCheck.bound3 s) (GuessAndCheck.bound4 s) "GuessAndCheck.bound3 s"

        testCase "2e with |F| counting distinct functions bound (3) loses on a one-input network"
        <| fun () ->
            let c = counterexample (GuessAndCheck.distinctCounterexample ())
            Expect.stringStarts c.Input "d₀=1 d₁=1 d₁*=0 q=5" "c.Input"
            Expect.equal c.Claimed 5.0 "c.Claimed"
            Expect.equal c.Actual 5.0 "c.Actual"
            Expect.stringContains c.Note "d₀=1 d₁=2 d₁*=1 q=3, q^(d₀d₁*+d₁) = 27 > |F| = 9" "c.Note"

        testCase "2 the probes decide function equality: networks equal on them agree on random real inputs"
        <| fun () ->
            let a: GuessAndCheck.Arch = { D0 = 2; D1 = 2; Q = 3 }
            let ps = GuessAndCheck.probes a
            let r = System.Random 7
            let nets = [| for i in 0L .. 728L -> GuessAndCheck.decode a i |]
            let groups = nets |> Array.groupBy (fun w -> System.String(GuessAndCheck.signature a ps w |> Array.map (fun s -> char (int s + 66))))
            let realOut (w: int[]) (x: float[]) =
                let h j = max 0.0 (float w.[2 * j] * x.[0] + float w.[2 * j + 1] * x.[1])
                sign (float w.[4] * h 0 + float w.[5] * h 1)
            for _, members in groups do
                for _ in 1..20 do
                    let x = [| r.NextDouble() * 2.0 - 1.0; r.NextDouble() * 2.0 - 1.0 |]
                    let outs = members |> Array.map (fun w -> realOut w x) |> Array.distinct
                    Expect.equal outs.Length 1 (sprintf "networks with one signature disagree at %A" x)

        // ---------------------------------------------------------------- Q3 double descent
        testPropertyWithConfig (maxTest 12) "3 the test error peaks at p = N, interpolation starts at N, and matches the closed form elsewhere"
        <| fun () -> Prop.forAll G.doubleDescent (fun c -> verified (DoubleDescent.check 12 c))

        // ---------------------------------------------------------------- Q4 He initialisation
        testPropertyWithConfig (maxTest 100) "4a E[ReLU(u)^2] = Var(u)/2 for symmetric u" <| fun () -> Prop.forAll G.symmetric (fun c -> verified (HeInit.checkSymmetric 100 c))

        testPropertyWithConfig (maxTest 25) "4b the pre-activation second moment is multiplied by sigma^2 d / 2 per layer"
        <| fun () -> Prop.forAll G.depth (fun c -> verified (HeInit.checkDepth 25 c))

        testCase "4a an asymmetric u breaks the identity (the check is not vacuous)"
        <| fun () ->
            // u = |z|: E[ReLU(u)²] = E[z²] = 1 but Var(u) = 1 − 2/π, so Var/2 = 0.18.
            let r = System.Random 3
            let xs = Array.init 20000 (fun _ -> let u = abs (Draw.normal r) in u * u)
            let m, se = Stats.meanSe xs
            Expect.isFalse
                (Verdict.isVerified (Verdict.monteCarlo "E[ReLU(|z|)²]" 4.0 ((1.0 - 2.0 / System.Math.PI) / 2.0) m se 20000))
                "Verdict.isVerified (Verdict.monteCarlo \"E[ReLU(|z|)²]\" 4.0 ((1.0 - 2.0 / System.Math.PI) / 2.0) m se 20000)"

        // ---------------------------------------------------------------- Q5 equivariance
        testPropertyWithConfig (maxTest 100) "6a W averaged over the group gives an equivariant f"
        <| fun () -> Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkSufficient 100 c))

        testPropertyWithConfig (maxTest 100) "6b every W violating the condition has a witness x"
        <| fun () -> Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkNecessary 100 c))

        testPropertyWithConfig (maxTest 100) "6c cyclic-equivariant W are the circulant matrices, i.e. circular conv1d"
        <| fun () -> Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkCirculant 100 { c with Group = Equivariance.Cyclic }))

        testPropertyWithConfig (maxTest 100) "6d the equivariant W have dimension = Burnside's orbit count on pairs"
        <| fun () -> Prop.forAll G.equivariance (fun c -> verified (Equivariance.checkDimension 100 c))

        testCase "6 group orders: cyclic n, dihedral 2n, symmetric n!"
        <| fun () ->
            for n in 3..6 do
                Expect.equal ((Equivariance.elements Equivariance.Cyclic n).Length) n "(Equivariance.elements Equivariance.Cyclic n).Length"
                Expect.equal ((Equivariance.elements Equivariance.Dihedral n).Length) (2 * n) "(Equivariance.elements Equivariance.Dihedral n).Length"
                Expect.equal ((Equivariance.elements Equivariance.Symmetric n).Length) (List.fold (*) 1 [ 1..n ]) "(Equivariance.elements Equivariance.Symmetric n).Length"

        // ---------------------------------------------------------------- Q6 VGG
        testPropertyWithConfig (maxTest 100) "7 small VGG-like nets: the DSL summary equals the closed-form shapes and counts"
        <| fun () -> Prop.forAll G.vggSmall (fun c -> verified (Vgg.checkSmall 100 c))

        testCase "7 VGG-11 has 132,863,336 parameters, 93.06% of them in the FC layers"
        <| fun () ->
            let rows = Vgg.standard.Force()
            Expect.equal (rows |> List.sumBy (fun r -> r.Params)) 132863336L "rows |> List.sumBy (fun r -> r.Params)"
            Expect.equal (System.Math.Round(Vgg.fcShare Vgg.vgg11 rows, 2)) 93.06 "System.Math.Round(Vgg.fcShare Vgg.vgg11 rows, 2)"
            let row label = rows |> List.find (fun r -> r.Label = label)
            Expect.equal ((row "CONV3-64").Params) 1792L "(row \"CONV3-64\").Params"
            Expect.equal ((row "CONV3-64").Output) "224x224x64" "(row \"CONV3-64\").Output"
            Expect.equal ((row "FC-4096").Params) 102764544L "(row \"FC-4096\").Params"
            Expect.equal
                ((rows |> List.filter (fun r -> r.Label = "POOL2") |> List.last).Output)
                "7x7x512"
                "(rows |> List.filter (fun r -> r.Label = \"POOL2\") |> List.last).Output"
            Expect.equal ((row "FC-1000").Params) 4097000L "(row \"FC-1000\").Params"
            Expect.isTrue (verified (Vgg.checkRows rows)) "verified (Vgg.checkRows rows)"
    ]
