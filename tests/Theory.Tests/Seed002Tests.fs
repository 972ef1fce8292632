/// Seed 002: convolution by hand, tiny-CNN gradients, softmax with NLL, and the two refuted statements.
module Dsl.Theory.Tests.Seed002Tests

open FsCheck
open FsCheck.FSharp
open NUnit.Framework
open FsCheck.NUnit
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

// ---------------------------------------------------------------- Q2 convolution by hand

[<Test>]
let ``8a filter 1 gives Table 3.4 and pooling gives [[16,33],[34,35]]`` () =
    Assert.That(verified (ConvByHand.checkFilter1 ()))
    expectArray ConvByHand.table34 (ConvByHand.conv 4 4 ConvByHand.image 3 ConvByHand.filter1 1)
    expectArray [| 16.; 33.; 34.; 35. |] (ConvByHand.pool 4 4 ConvByHand.table34)

[<Test>]
let ``8b filters 2 and 3 are recovered exactly by least squares`` () =
    Assert.That(verified (ConvByHand.checkRecovered ()))
    let k2, _ = ConvByHand.recover 4 4 ConvByHand.image 3 1 ConvByHand.table35
    let k3, _ = ConvByHand.recover 4 4 ConvByHand.image 3 1 ConvByHand.table36
    expectArray [| 1.; 0.; 1.; 0.; 1.; 0.; 1.; 0.; 1. |] (k2 |> Array.map (fun v -> System.Math.Round v + 0.0))
    expectArray [| 1.; 2.; 0.; 2.; 0.; 2.; 0.; 2.; 1. |] (k3 |> Array.map (fun v -> System.Math.Round v + 0.0))
    expectArray [| 17.; 14.; 18.; 25. |] (ConvByHand.pool 4 4 ConvByHand.table35)
    expectArray [| 24.; 41.; 42.; 35. |] (ConvByHand.pool 4 4 ConvByHand.table36)

[<Property(MaxTest = 100)>]
let ``8 engine conv2d and max_pool2d equal the loops, and least squares recovers the filter`` () =
    Prop.forAll G.convCase (fun c -> verified (ConvByHand.check 100 c))

// ---------------------------------------------------------------- Q3 tiny CNN

[<Property(MaxTest = 100)>]
let ``9 autograd equals the seed's closed forms for all eight weights`` () =
    Prop.forAll G.tinyCnn (fun c -> verified (TinyCnn.check 100 c))

// ---------------------------------------------------------------- softmax with NLL

[<Property(MaxTest = 100)>]
let ``10a dL/dx = p - y for softmax with NLL`` () =
    Prop.forAll G.logits (fun c -> verified (Softmax.checkNll 100 c))

[<Property(MaxTest = 100)>]
let ``10b the softmax Jacobian is diag(p) - p p^T`` () =
    Prop.forAll G.logits (fun c -> verified (Softmax.checkJacobian 100 c))

[<Property(MaxTest = 100)>]
let ``10c "softmax's derivative is one" fails at every x: dp_i/dx_i <= 1/4`` () =
    Prop.forAll G.logits (fun c ->
        let j = Softmax.jacobianOf c.Logits
        let n = c.Logits.Length
        (Softmax.derivativeIsOneFails c.Logits).IsSome && Seq.forall (fun i -> j.[i * n + i] <= 0.25 + 1e-12) [ 0 .. n - 1 ])

[<Test>]
let ``10c the statement is refuted with the shrunk counterexample x = [0, 0]`` () =
    let c = counterexample (Softmax.refuteDerivativeIsOne 1003)
    Assert.That(c.Input, Is.EqualTo "x = [0, 0], i = 1")
    Assert.That(c.Actual, Is.EqualTo(0.25).Within(1e-12))
    Assert.That(c.Claimed, Is.EqualTo 1.0)

[<Property(MaxTest = 100)>]
let ``10d "d/dp ½‖t−p‖² = ‖t−p‖²" fails at random (t, p)`` () =
    Prop.forAll (G.seed |> Gen.map (fun s -> let r = System.Random s in Array.init (2 * (1 + r.Next 5)) (fun _ -> 3.0 * Draw.normal r)) |> Arb.fromGen) (fun tp ->
        (Softmax.l2DerivativeFails tp).IsSome)

[<Test>]
let ``10d the statement is refuted with the shrunk counterexample t = [0], p = [-1]`` () =
    let c = counterexample (Softmax.refuteL2Derivative 1004)
    Assert.That(c.Input, Is.EqualTo "t = [0], p = [-1], i = 1")
    Assert.That(c.Claimed, Is.EqualTo 1.0)
    Assert.That(c.Actual, Is.EqualTo(-1.0).Within(1e-12))

[<Test>]
let ``10d the statement holds only where p - t is 0 or 1 (why the shrinker stops at -1)`` () =
    Assert.That((Softmax.l2DerivativeFails [| 0.0; 0.0 |]).IsNone)
    Assert.That((Softmax.l2DerivativeFails [| 0.0; 1.0 |]).IsNone)
    Assert.That((Softmax.l2DerivativeFails [| 0.0; 2.0 |]).IsSome)

[<Test>]
let ``the shrinker keeps failing inputs failing and makes them simpler`` () =
    let fails (xs: float[]) = xs.Length >= 2 && xs |> Array.exists (fun v -> v > 1.0)
    let x, steps = Shrink.minimize fails (Shrink.floats 1 2) [| 3.7; -2.2; 9.9; 0.4 |]
    Assert.That(fails x)
    expectArray [| 0.0; 2.0 |] (Array.sort x)
    Assert.That(steps, Is.GreaterThan 0)
