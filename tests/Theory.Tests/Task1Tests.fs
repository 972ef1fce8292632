/// Seed 000 Task 1: the study's parts as properties over smaller random widths (64–160, depth 50), the
/// a·x experiment over random N, and the engine's initialisers over random shapes.
module Dsl.Theory.Tests.Task1Tests

open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

let private onStudy (check: int -> DeepStudy.Spec -> DeepStudy.Record list -> Verdict) = Prop.forAll G.study (fun spec -> verified (check 1 spec (DeepStudy.run spec)))

/// This module's tests, the Expecto list "Task1" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Task1" [
        testPropertyWithConfig (maxTest 5) "5a every setting's std follows its closed form at the report layers" <| fun () -> onStudy Task1.checkTable

        testPropertyWithConfig (maxTest 5) "5b N(0,1) weights overflow float32 within 2 layers of log(max)/log(sqrt d)" <| fun () -> onStudy Task1.checkOverflow

        testPropertyWithConfig (maxTest 8) "5c the std of a·x is sqrt N within its standard error" <| fun () -> Prop.forAll G.product (fun c -> verified (Task1.checkProduct 8 c))

        testPropertyWithConfig (maxTest 5) "5d N(0,1)/sqrt d keeps a deep linear net at E[x^2] = 1" <| fun () -> onStudy (Task1.checkConstant "N(0,1)/√d, linear")

        testPropertyWithConfig (maxTest 5) "5e Kaiming normal with ReLU keeps E[x^2] = 1" <| fun () -> onStudy (Task1.checkConstant "Kaiming normal (fan_in), ReLU")

        testPropertyWithConfig (maxTest 5) "5f Xavier uniform with ReLU shrinks the std by 1/sqrt 2 per layer" <| fun () -> onStudy Task1.checkXavierRelu

        testPropertyWithConfig (maxTest 5) "5g tanh follows the finite-width closure (power-law decay)" <| fun () -> onStudy Task1.checkTanh

        testPropertyWithConfig (maxTest 3) "5i tanh at depth d/4: the finite-width closure holds and the mean field is rejected"
        <| fun () -> Prop.forAll G.tanhCase (fun c -> verified (Task1.checkFiniteWidth 3 c))

        testPropertyWithConfig (maxTest 100) "5h the engine's initialisers have their stated means and variances"
        <| fun () -> Prop.forAll G.initializer (fun c -> verified (Initializers.check 100 c))

        testCase "5 the overflow layer for d = 512 is 28.4" <| fun () -> Expect.floatClose (within 0.01) (DeepStudy.overflowLayer 512) 28.44 "DeepStudy.overflowLayer 512"

        testCase "5g the mean-field recursion decays like 1/(2l), and the width-512 closure lies below it"
        <| fun () ->
            let mf, cl = DeepStudy.tanhSecondMoments 512 1.0 100
            Expect.floatClose (within 0.05) (mf.[99] * 200.0) 1.0 "mf.[99] * 200.0"
            Expect.isLessThan cl.[99] (mf.[99] * 0.97) "cl.[99]"
            Expect.isLessThan cl.[0] mf.[0] "cl.[0]"

        testCase "5 conv fan-in is C_in·k_h·k_w"
        <| fun () ->
            let struct (fi, fo) = Dsl.Engine.Init.Fans [| 64L; 32L; 3L; 5L |]
            Expect.equal fi (32L * 15L) "fi"
            Expect.equal fo (64L * 15L) "fo"
    ]
