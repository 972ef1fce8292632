/// Full-batch L-BFGS (`Training.fitFullBatch` over the engine's LBFGS): it reaches the optimum of a convex
/// problem (the gradient vanishes there), its history and final loss agree with `evaluate`, the given model is
/// untouched, nothing leaks, and bad options are refused by name.
module Dsl.Tests.FullBatch

open System
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

let private l2 = { Applies = (fun _ -> true); L1 = 0.0; L2 = 1e-2 }

/// Multinomial logistic regression with an L2 penalty (strictly convex) on three blobs.
let private problem () =
    let x, y = blobs 3 20 2.0 0.8 5L
    let model = Model.buildSeeded 3L [ 2L ] (dense 3)
    x, y, model, { quiet with Loss = Loss.crossEntropy; Penalties = [ l2 ]; Epochs = 3 }

/// This module's tests, the Expecto list "FullBatch" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "FullBatch" [
        testCase "fitFullBatch with strong-Wolfe L-BFGS reaches the optimum: the penalised loss's gradient vanishes there"
        <| fun () ->
            scoped (fun () ->
                let x, y, model, o = problem ()
                let before = model.Params |> Tree.leaves |> List.map (fun t -> t.ToArray<float32>())
                let t = Training.fitFullBatch { Optimizers.lbfgs with StrongWolfe = true } o model x (Value.T y)
                // the gradient of loss + 0.01·Σw² at the trained parameters
                let ps = t.Model.Params
                let pred, _ = Model.applyWith t.Model ps t.Model.State Eval (Rng.seed 0L) (Value.T x)
                let total = Loss.crossEntropy.Compute pred (Value.T y) + (Tree.leaves ps |> List.map (fun w -> w.Square().Sum() * 1e-2) |> List.reduce (+))
                let grads = Autograd.Grad(Array.ofList [ total ], Array.ofList (Tree.leaves ps))
                let gmax = grads |> Array.map (fun g -> (nonNull g).Abs().Max().ToDouble()) |> Array.max
                Expect.isLessThan gmax 1e-4 (sprintf "max |gradient| at the L-BFGS solution: %g" gmax)
                // history: the loss before each step, decreasing; the final loss is evaluate's loss plus the penalty
                let losses = t.Series "loss"
                Expect.equal losses.Length 3 "one entry per step"
                Expect.isGreaterThan losses.[0] losses.[2] "the first step lowers the loss"
                let final = (List.last t.History).TryGet "final_loss" |> Option.get
                Expect.floatClose Accuracy.high final (total.ToDouble()) "final_loss is the penalised loss at the solution"
                let evals = t.Series "func_evals"
                Expect.isTrue (evals |> List.pairwise |> List.forall (fun (a, b) -> b >= a)) "func_evals counts up over the steps"
                let penalty = Tree.leaves ps |> List.sumBy (fun w -> w.Square().Sum().ToDouble() * 1e-2)
                let e = Training.evaluateWith Loss.crossEntropy [] 1000 t.Model x (Value.T y)
                Expect.floatClose Accuracy.high (e.["loss"] + penalty) final "evaluate's loss + penalty = final_loss"
                // the given model is not modified
                let after = model.Params |> Tree.leaves |> List.map (fun t -> t.ToArray<float32>())
                Expect.equal after before "fitFullBatch trains copies")

        testCase "fitFullBatch without a line search also converges, and frees every tensor it made"
        <| fun () ->
            let baseline = settledLive ()
            scoped (fun () ->
                let x, y, model, o = problem ()
                let t = Training.fitFullBatch Optimizers.lbfgs { o with Epochs = 5 } model x (Value.T y)
                let losses = t.Series "loss"
                Expect.isLessThan (List.last losses) (List.head losses) "the loss decreases"
                Params.dispose t.Model.Params
                Params.dispose t.Model.State)
            Expect.equal (settledLive ()) baseline "live tensors back to the baseline"

        testCase "fitFullBatch refuses zero steps and a zero learning rate by name"
        <| fun () ->
            scoped (fun () ->
                let x, y, model, o = problem ()
                let zeroSteps () = Training.fitFullBatch Optimizers.lbfgs { o with Epochs = 0 } model x (Value.T y) |> ignore
                let e = Expect.throwsC zeroSteps id
                Expect.stringContains e.Message "fitFullBatch" "names the function"
                let zeroLr () = Training.fitFullBatch { Optimizers.lbfgs with Lr = 0.0 } o model x (Value.T y) |> ignore
                let e = Expect.throwsC zeroLr id
                Expect.stringContains e.Message "LBFGS: learning rate" "names the optimizer and the option")
    ]
