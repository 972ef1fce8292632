/// Seed 002: convolution by hand, tiny-CNN gradients, softmax with NLL, and the two refuted statements.
module Dsl.Theory.Tests.Seed002Tests

open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

/// This module's tests, the Expecto list "Seed002" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Seed002" [
        // ---------------------------------------------------------------- Q2 convolution by hand
        testCase "8a filter 1 gives Table 3.4 and pooling gives [[16,33],[34,35]]"
        <| fun () ->
            Expect.isTrue (verified (ConvByHand.checkFilter1 ())) "verified (ConvByHand.checkFilter1 ())"
            expectArray ConvByHand.table34 (ConvByHand.conv 4 4 ConvByHand.image 3 ConvByHand.filter1 1)
            expectArray [| 16.; 33.; 34.; 35. |] (ConvByHand.pool 4 4 ConvByHand.table34)

        testCase "8b filters 2 and 3 are recovered exactly by least squares"
        <| fun () ->
            Expect.isTrue (verified (ConvByHand.checkRecovered ())) "verified (ConvByHand.checkRecovered ())"
            let k2, _ = ConvByHand.recover 4 4 ConvByHand.image 3 1 ConvByHand.table35
            let k3, _ = ConvByHand.recover 4 4 ConvByHand.image 3 1 ConvByHand.table36
            expectArray [| 1.; 0.; 1.; 0.; 1.; 0.; 1.; 0.; 1. |] (k2 |> Array.map (fun v -> System.Math.Round v + 0.0))
            expectArray [| 1.; 2.; 0.; 2.; 0.; 2.; 0.; 2.; 1. |] (k3 |> Array.map (fun v -> System.Math.Round v + 0.0))
            expectArray [| 17.; 14.; 18.; 25. |] (ConvByHand.pool 4 4 ConvByHand.table35)
            expectArray [| 24.; 41.; 42.; 35. |] (ConvByHand.pool 4 4 ConvByHand.table36)

        testPropertyWithConfig (maxTest 100) "8 engine conv2d and max_pool2d equal the loops, and least squares recovers the filter"
        <| fun () -> Prop.forAll G.convCase (fun c -> verified (ConvByHand.check 100 c))

        // ---------------------------------------------------------------- Q3 tiny CNN
        testPropertyWithConfig (maxTest 100) "9 autograd equals the seed's closed forms for all eight weights"
        <| fun () -> Prop.forAll G.tinyCnn (fun c -> verified (TinyCnn.check 100 c))

        // ---------------------------------------------------------------- softmax with NLL
        testPropertyWithConfig (maxTest 100) "10a dL/dx = p - y for softmax with NLL" <| fun () -> Prop.forAll G.logits (fun c -> verified (Softmax.checkNll 100 c))

        testPropertyWithConfig (maxTest 100) "10b the softmax Jacobian is diag(p) - p p^T" <| fun () -> Prop.forAll G.logits (fun c -> verified (Softmax.checkJacobian 100 c))

        testPropertyWithConfig (maxTest 100) "10c \"softmax's derivative is one\" fails at every x: dp_i/dx_i <= 1/4"
        <| fun () ->
            Prop.forAll G.logits (fun c ->
                let j = Softmax.jacobianOf c.Logits
                let n = c.Logits.Length
                (Softmax.derivativeIsOneFails c.Logits).IsSome && Seq.forall (fun i -> j.[i * n + i] <= 0.25 + 1e-12) [ 0 .. n - 1 ])

        testCase "10c the statement is refuted with the shrunk counterexample x = [0, 0]"
        <| fun () ->
            let c = counterexample (Softmax.refuteDerivativeIsOne 1003)
            Expect.equal c.Input "x = [0, 0], i = 1" "c.Input"
            Expect.floatClose (within 1e-12) c.Actual 0.25 "c.Actual"
            Expect.equal c.Claimed 1.0 "c.Claimed"

        testPropertyWithConfig (maxTest 100) "10d \"d/dp ½‖t−p‖² = ‖t−p‖²\" fails at random (t, p)"
        <| fun () ->
            Prop.forAll (G.seed |> Gen.map (fun s -> let r = System.Random s in Array.init (2 * (1 + r.Next 5)) (fun _ -> 3.0 * Draw.normal r)) |> Arb.fromGen) (fun tp ->
                (Softmax.l2DerivativeFails tp).IsSome)

        testCase "10d the statement is refuted with the shrunk counterexample t = [0], p = [-1]"
        <| fun () ->
            let c = counterexample (Softmax.refuteL2Derivative 1004)
            Expect.equal c.Input "t = [0], p = [-1], i = 1" "c.Input"
            Expect.equal c.Claimed 1.0 "c.Claimed"
            Expect.floatClose (within 1e-12) c.Actual (-1.0) "c.Actual"

        testCase "10d the statement holds only where p - t is 0 or 1 (why the shrinker stops at -1)"
        <| fun () ->
            Expect.isTrue ((Softmax.l2DerivativeFails [| 0.0; 0.0 |]).IsNone) "(Softmax.l2DerivativeFails [| 0.0; 0.0 |]).IsNone"
            Expect.isTrue ((Softmax.l2DerivativeFails [| 0.0; 1.0 |]).IsNone) "(Softmax.l2DerivativeFails [| 0.0; 1.0 |]).IsNone"
            Expect.isTrue ((Softmax.l2DerivativeFails [| 0.0; 2.0 |]).IsSome) "(Softmax.l2DerivativeFails [| 0.0; 2.0 |]).IsSome"

        testCase "the shrinker keeps failing inputs failing and makes them simpler"
        <| fun () ->
            let fails (xs: float[]) = xs.Length >= 2 && xs |> Array.exists (fun v -> v > 1.0)
            let x, steps = Shrink.minimize fails (Shrink.floats 1 2) [| 3.7; -2.2; 9.9; 0.4 |]
            Expect.isTrue (fails x) "fails x"
            expectArray [| 0.0; 2.0 |] (Array.sort x)
            Expect.isGreaterThan steps 0 "steps"
    ]
