/// Seed 002 Q1: the network by hand against autograd, and the refuted "the loss is almost half of the RMSE".
module Dsl.Theory.Tests.MlpByHandTests

open FsCheck.FSharp
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Theory
open Dsl.Theory.Tests.Helpers
module G = Dsl.Theory.Tests.Generators

let private thrown (f: unit -> unit) : exn =
    try
        f ()
        failtest "expected an exception"
    with
    | :? AssertException -> reraise ()
    | e -> e

let private settledLive () =
    for _ in 1..2 do
        System.GC.Collect()
        System.GC.WaitForPendingFinalizers()
    Tensor.LiveCount

/// This module's tests, the Expecto list "MlpByHand" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "MlpByHand" [
        testPropertyWithConfig (maxTest 200) "10e every forward, loss, gradient and SGD-momentum step equals autograd to 1e-6 relative"
        <| fun () -> Prop.forAll G.mlpByHand (fun c -> verified (MlpCheck.check 200 c))

        testCase "10e the catalog sweep reports its worst relative difference (far below 1e-6 in float64)"
        <| fun () ->
            let e = evidence (MlpCheck.claim.Check())
            printfn "by hand vs autograd: max relative difference %.3g over %d quantities" e.Estimate e.Cases
            Expect.isLessThan e.Estimate 1e-12 "float64 rounding only"
            Expect.isGreaterThan e.Cases 1000 "e.Cases"

        testCase "the check catches a wrong backward pass (the report's L2 derivative ‖t − p‖²)"
        <| fun () ->
            Engine.scoped (fun () ->
                use net = MlpByHand.create [ 3; 4; 1 ] 0.01 MlpByHand.Regression (MlpByHand.Random 0.7) 5L DType.Float64
                let x = Engine.tensor [ 2L; 3L ] [| 0.5; -1.0; 2.0; 1.5; 0.3; -0.7 |]
                let t = Engine.tensor [ 2L; 1L ] [| 1.0; -2.0 |]
                let pass = MlpByHand.forward net x
                let g = MlpByHand.backward net pass t
                let ws = net.Weights |> Array.map (fun w -> w.Clone().RequiresGrad_()) |> List.ofArray
                let bs = net.Biases |> Array.map (fun b -> b.Clone().RequiresGrad_()) |> List.ofArray
                (MlpCheck.referenceLoss MlpByHand.Regression 0.01 ws bs x t).Backward()
                let autograd = Engine.values (nonNull ws.[1].Grad)
                Expect.isLessThan (MlpCheck.relative (Engine.values g.Weights.[1]) autograd) 1e-12 "the right δ_L = (p − t)/N"
                // δ_L = ‖t − p‖²/N in place of (p − t)/N, as the report's L2 class has it
                let wrong = ((pass.Output - t).Square().Sum() / 2.0).Expand([| 2L; 1L |])
                let dW = wrong.T.Mm(pass.Inputs.[1])
                Expect.isGreaterThan (MlpCheck.relative (Engine.values dW) autograd) 1e-3 "the report's derivative is caught")

        testCase "zero initialisation learns only the output bias: constant predictions at the target mean"
        <| fun () ->
            Engine.scoped (fun () ->
                use net = MlpByHand.create [ 4; 8; 1 ] 0.01 MlpByHand.Regression MlpByHand.Zero 1L DType.Float64
                use g = new Generator 3L
                let x = Torch.Randn([| 64L; 4L |], g, DType.Float64)
                let y = x.Select(1, 0L) * 3.0 + 30.0
                let o = { Epochs = 400; BatchSize = 64; LearningRate = 0.05; Momentum = 0.9; Schedule = Schedule.constant; Seed = 1L }: MlpByHand.TrainOptions
                let history = MlpByHand.train o net x y x y
                for w in net.Weights do
                    Expect.equal (w.Abs().Max().ToDouble()) 0.0 "every weight stays 0 (all gradients but the output bias vanish)"
                Expect.equal (net.Biases.[0].Abs().Max().ToDouble()) 0.0 "the hidden biases too"
                Expect.floatClose (within 1e-6) (net.Biases.[1].ToDouble()) (y.Mean().ToDouble()) "the output bias is the target mean"
                let std = y.Std(unbiased = false).ToDouble()
                Expect.floatClose (within 1e-6) (MlpByHand.rmse net x y) std "RMSE = the targets' std: the seed's 19.1553 for zero init"
                Expect.isLessThan (List.last history).TrainLoss (List.head history).TrainLoss "the loss fell")

        testCase "random initialisation fits a linear target and classification learns separable classes"
        <| fun () ->
            Engine.scoped (fun () ->
                use g = new Generator 4L
                let x = Torch.Randn([| 128L; 3L |], g, DType.Float64)
                let y = x.Select(1, 0L) * 2.0 - x.Select(1, 2L)
                use reg = MlpByHand.create [ 3; 16; 1 ] 0.01 MlpByHand.Regression (MlpByHand.Random 0.3) 2L DType.Float64
                let o = { Epochs = 60; BatchSize = 32; LearningRate = 0.05; Momentum = 0.9; Schedule = Schedule.exponential 0.98; Seed = 1L }: MlpByHand.TrainOptions
                let before = MlpByHand.rmse reg x y
                let h = MlpByHand.train o reg x y x y
                Expect.isLessThan (MlpByHand.rmse reg x y) (0.1 * before) "RMSE fell tenfold"
                Expect.floatClose (within 1e-12) (List.last h).LearningRate (0.05 * 0.98 ** 59.0) "the schedule's rate in the last epoch"
                let labels = x.Select(1, 0L).Gt(0.0).To(DType.Int64) + x.Select(1, 1L).Gt(0.0).To(DType.Int64)
                use cls = MlpByHand.create [ 3; 16; 3 ] 0.01 MlpByHand.Classification MlpByHand.Xavier 2L DType.Float64
                MlpByHand.train o cls x labels x labels |> ignore
                Expect.isGreaterThan (MlpByHand.accuracy cls x labels) 0.9 "accuracy")

        testCase "training frees every tensor it creates"
        <| fun () ->
            let run () =
                Engine.scoped (fun () ->
                    use net = MlpByHand.create [ 3; 5; 2 ] 0.01 MlpByHand.Classification MlpByHand.Xavier 2L DType.Float32
                    let x = Torch.Randn([| 40L; 3L |])
                    let y = Torch.Randint(0L, 2L, [| 40L |])
                    MlpByHand.train { Epochs = 3; BatchSize = 8; LearningRate = 0.1; Momentum = 0.9; Schedule = Schedule.constant; Seed = 1L } net x y x y |> ignore)
            run ()
            let before = settledLive ()
            run ()
            Expect.equal (settledLive ()) before "live tensors are back at the baseline"

        testCase "bad input names the network, the shapes and the fix"
        <| fun () ->
            Engine.scoped (fun () ->
                use net = MlpByHand.create [ 3; 2; 1 ] 0.01 MlpByHand.Regression MlpByHand.Xavier 1L DType.Float32
                let e = thrown (fun () -> MlpByHand.forward net (Torch.Zeros(4L, 5L)) |> ignore)
                Expect.stringContains e.Message "MlpByHand.forward" "e.Message"
                Expect.stringContains e.Message "[N, 3]" "e.Message"
                let e2 = thrown (fun () -> MlpByHand.create [ 3; 1 ] 0.01 MlpByHand.Classification MlpByHand.Xavier 1L DType.Float32 |> ignore)
                Expect.stringContains e2.Message "at least 2 outputs" "e2.Message")

        // ---------------------------------------------------------------- 10f the loss vs the RMSE
        testCase "10f \"the loss is almost half of the RMSE\" is refuted with a shrunk counterexample"
        <| fun () ->
            let c = counterexample (HalfRmse.refute 1006)
            printfn "10f: %O" c
            Expect.equal c.Input "residuals p − t = [2]" "c.Input"
            Expect.equal c.Claimed 1.0 "RMSE/2 = 1"
            Expect.equal c.Actual 2.0 "loss = ½·2² = 2"
            Expect.stringContains c.Note "112.48" "the seed's own RMSE"

        testPropertyWithConfig (maxTest 100) "10f the loss is ½·RMSE² at any residuals, so half the RMSE only where RMSE ∈ {0, 1}"
        <| fun () ->
            Prop.forAll (G.seed |> Gen.map (fun s -> let r = System.Random s in Array.init (1 + r.Next 6) (fun _ -> 15.0 * Draw.normal r)) |> Arb.fromGen) (fun e ->
                let loss, rmse = HalfRmse.lossAndRmse e
                abs (loss - 0.5 * rmse * rmse) <= 1e-9 * (1.0 + loss) && (HalfRmse.fails e).IsSome = (abs (rmse - 1.0) > HalfRmse.almost))

        testCase "10f the statement holds at RMSE 0 and 1 (why the shrinker stops at [2])"
        <| fun () ->
            Expect.isNone (HalfRmse.fails [| 0.0 |]) "RMSE 0"
            Expect.isNone (HalfRmse.fails [| 1.0; -1.0 |]) "RMSE 1"
            Expect.isSome (HalfRmse.fails [| 14.9987 |]) "the seed's RMSE"
    ]
