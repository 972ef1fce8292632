/// Seed 004 Task 2: permuted pixels for an MLP (forward and gradient descent) and a CNN.
module Dsl.Theory.Tests.Seed004Tests

open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

/// A random image size, kernel size and transposition.
let private cnnCase =
    gen {
        let! h = Gen.choose (2, 8)
        let! w = Gen.choose (2, 8)
        let! k = Gen.choose (1, min h w)
        let! a = Gen.choose (0, h * w - 1)
        let! b = Gen.choose (0, h * w - 1)
        let! s = G.seed
        return h, w, k, a, b, s
    }
    |> Arb.fromGen

/// This module's tests, the Expecto list "Seed004" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Seed004" [
        testPropertyWithConfig (maxTest 100) "11a the MLP with W1 P^T computes on Px what the original computes on x"
        <| fun () -> Prop.forAll G.mlp (fun c -> verified (PermutedPixels.checkForward 100 c))

        testPropertyWithConfig (maxTest 25) "11b gradient descent from the permuted init follows the permuted trajectory"
        <| fun () -> Prop.forAll G.mlp (fun c -> verified (PermutedPixels.checkTrajectory 25 c))

        testCase "11c the smallest CNN counterexample: 2x3 image, 2x2 kernel, two neighbouring pixels swapped"
        <| fun () ->
            let h, w, k, a, b, _, _ = PermutedPixels.smallestCounterexample ()
            Expect.equal (h, w, k, a, b) (2, 3, 2, 0, 1) "(h, w, k, a, b)"
            Expect.isTrue (verified (PermutedPixels.checkCnn ())) "verified (PermutedPixels.checkCnn ())"

        testPropertyWithConfig (maxTest 200) "11c a scattered window always leaves kernel mass no conv can place; 1x1 kernels never scatter"
        <| fun () ->
            Prop.forAll cnnCase (fun (h, w, k, a, b, s) ->
                let perm =
                    Array.init (h * w) (fun i ->
                        if i = a then b
                        elif i = b then a
                        else i)
                match PermutedPixels.scatteredWindow h w k perm with
                | Some win -> k > 1 && PermutedPixels.unabsorbableFraction h w k perm win (Draw.normals (System.Random s) (k * k)) > 0.0
                | None -> true)

        testPropertyWithConfig (maxTest 100) "11c flips and the identity never scatter a window (a CNN absorbs them)"
        <| fun () ->
            Prop.forAll cnnCase (fun (h, w, k, _, _, _) ->
                let flipH = Array.init (h * w) (fun p -> (p / w) * w + (w - 1 - p % w))
                let flipV = Array.init (h * w) (fun p -> (h - 1 - p / w) * w + p % w)
                [ flipH; flipV; Array.init (h * w) id ] |> List.forall (fun perm -> (PermutedPixels.scatteredWindow h w k perm).IsNone))
    ]
