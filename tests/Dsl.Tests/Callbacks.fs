/// Callbacks and schedules: early stopping restores the best epoch's parameters (checked against the
/// checkpoint saved at that epoch), every Schedule against its formula, the learning-rate scheduler and
/// reduce-on-plateau changing the optimizer's rate, and the CSV logger's file.
module Dsl.Tests.Callbacks

open System
open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

// ---------------------------------------------------------------- 3. early stopping

/// A tiny noisy training set, a clean validation set and a big network with a large rate: the
/// validation loss improves for a few epochs, then gets worse as the network memorises the noise.
let private overfitting () =
    let x, y = noisySign 24 0.35 11L
    let vx, vy = noisySign 200 0.0 12L
    let model = Model.buildSeeded 1L [ 2L ] (dense 128 >-> relu >-> dense 128 >-> relu >-> dense 2)
    x, y, vx, vy, model

let private overfitOptions (vx: Tensor) (vy: Tensor) callbacks = {
    quiet with
        Optimizer = Optimizers.adam 0.002
        Epochs = 60
        BatchSize = 8
        ValidationData = Some(DataSource.Tensors(vx, Value.T vy))
        Callbacks = callbacks
}

/// Index of the first minimum.
let private argminFirst (xs: float list) = xs |> List.indexed |> List.minBy (fun (i, v) -> v, i) |> fst

// ---------------------------------------------------------------- 9. schedules

let private rate (s: Schedule) lr e = s.Rate lr e

let private expectRates (s: Schedule) (lr: float) (expected: (int * float) list) =
    for e, v in expected do
        Expect.floatClose (within (1e-12 * max 1.0 (abs v))) (rate s lr e) v (sprintf "%s at epoch %d" s.Name e)

// ---------------------------------------------------------------- 9. learning-rate callbacks

let private lrData () = blobs 3 10 3.0 0.5 1L

/// This module's tests, the Expecto list "Callbacks" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Callbacks" [
        // ---------------------------------------------------------------- 3. early stopping
        testCase "early stopping with restoreBest returns the parameters of the best epoch's checkpoint"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y, vx, vy, model = overfitting ()
                    let patience = 3
                    let template = Path.Combine(dir, "ckpt-{epoch:02d}")
                    let o =
                        overfitOptions vx vy [
                            Callback.modelCheckpoint { ModelCheckpoint.Default with Path = template; Monitor = "val_loss"; Mode = Min }
                            Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_loss"; Mode = Min; Patience = patience; RestoreBestWeights = true }
                        ]
                    let t = Training.fit o model x (Value.T y)
                    let vals = t.Series "val_loss"
                    let best = argminFirst vals + 1
                    printfn "val_loss by epoch: %A; best epoch %d" vals best
                    Expect.isLessThan t.History.Length o.Epochs "training stopped early"
                    Expect.isGreaterThan best 1 "the data should make val_loss improve at first"
                    Expect.equal t.History.Length (best + patience) "stops `patience` epochs after the best one"
                    // One checkpoint per epoch.
                    for e in 1 .. t.History.Length do
                        Expect.isTrue (File.Exists(Path.Combine(dir, sprintf "ckpt-%02d.safetensors" e))) (sprintf "checkpoint of epoch %d" e)
                    let p, s, info = Checkpoint.load (Path.Combine(dir, sprintf "ckpt-%02d" best)) None
                    Expect.equal info.Epoch best "info.Epoch"
                    expectSameParams "returned model vs best checkpoint" p t.Model.Params
                    Expect.isTrue (Tree.isEmpty s) "no state in this model"
                    // The last epoch's parameters differ: the restore really happened.
                    let last, _, _ = Checkpoint.load (Path.Combine(dir, sprintf "ckpt-%02d" t.History.Length)) None
                    Expect.isFalse (sameParams last t.Model.Params) "the returned parameters are not the last epoch's"
                    // Evaluating the returned model reproduces the best val_loss.
                    let ev = (Training.evaluate o t.Model vx (Value.T vy)).["loss"]
                    Expect.floatClose (within 1e-6) ev (List.min vals) "ev"))

        testCase "early stopping without restoreBest returns the last epoch's parameters"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y, vx, vy, model = overfitting ()
                    let template = Path.Combine(dir, "e{epoch}")
                    let o =
                        overfitOptions vx vy [
                            Callback.modelCheckpoint { ModelCheckpoint.Default with Path = template; Monitor = "val_loss"; Mode = Min }
                            Callback.earlyStopping { EarlyStopping.Default with Monitor = "val_loss"; Mode = Min; Patience = 2 }
                        ]
                    let t = Training.fit o model x (Value.T y)
                    Expect.isLessThan t.History.Length o.Epochs "training stopped early"
                    Expect.equal t.History.Length (argminFirst (t.Series "val_loss") + 1 + 2) "t.History.Length"
                    let last, _, _ = Checkpoint.load (Path.Combine(dir, sprintf "e%d" t.History.Length)) None
                    expectSameParams "returned model vs last checkpoint" last t.Model.Params))

        testCase "modelCheckpoint with bestOnly saves only improving epochs"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y, vx, vy, model = overfitting ()
                    let o = {
                        overfitOptions vx vy [
                            Callback.modelCheckpoint { ModelCheckpoint.Default with Path = Path.Combine(dir, "best-{epoch:03d}-{val_loss:.3f}"); Mode = Min; SaveBestOnly = true }
                        ] with
                            Epochs = 12
                    }
                    let t = Training.fit o model x (Value.T y)
                    let vals = t.Series "val_loss"
                    let improving = vals |> List.indexed |> List.filter (fun (i, v) -> i = 0 || v < List.min (List.take i vals)) |> List.map (fun (i, v) -> i + 1, v)
                    let expected =
                        improving |> List.map (fun (e, v) -> sprintf "best-%03d-%s.safetensors" e (v.ToString("F3", Globalization.CultureInfo.InvariantCulture))) |> List.sort
                    let files = DirectoryInfo(dir).GetFiles("*.safetensors") |> Array.map (fun f -> f.Name) |> List.ofArray |> List.sort
                    expectEqual "checkpoint files" expected files))

        testCase "a callback monitoring a metric that is not logged fails naming it"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 2 10 3.0 0.5 1L
                let model = Model.buildSeeded 1L [ 2L ] (dense 2)
                let e =
                    expectCatch (fun () ->
                        Training.fit
                            { quiet with Epochs = 2; Callbacks = [ Callback.earlyStopping { EarlyStopping.Default with Patience = 1; RestoreBestWeights = true } ] }
                            model
                            x
                            (Value.T y)
                        |> ignore)
                expectContains "val_loss" e.Message
                expectContains "loss" e.Message)

        // ---------------------------------------------------------------- 9. schedules
        testCase "constant, step, multiStep and exponential follow their formulas"
        <| fun () ->
            expectRates Schedule.constant 0.1 [ 0, 0.1; 7, 0.1; 100, 0.1 ]
            // StepLR(step_size=3, gamma=0.5): lr·0.5^⌊e/3⌋.
            expectRates (Schedule.step 3 0.5) 0.1 [ 0, 0.1; 2, 0.1; 3, 0.05; 5, 0.05; 6, 0.025; 10, 0.0125 ]
            // MultiStepLR(milestones=[2, 5], gamma=0.1): the number of milestones ≤ e.
            expectRates (Schedule.multiStep [ 2; 5 ] 0.1) 1.0 [ 0, 1.0; 1, 1.0; 2, 0.1; 4, 0.1; 5, 0.01; 9, 0.01 ]
            // ExponentialLR(gamma=0.9): lr·0.9^e.
            expectRates (Schedule.exponential 0.9) 0.2 [ 0, 0.2; 1, 0.18; 3, 0.2 * 0.729; 10, 0.2 * 0.9 ** 10.0 ]

        testCase "cosine warms up linearly and then anneals to minLr at the last epoch"
        <| fun () ->
            let lr, minLr = 0.1, 0.001
            let s = Schedule.cosine 10 2 minLr
            // Warm-up: lr·(e+1)/warmup.
            expectRates s lr [ 0, 0.05; 1, 0.1 ]
            // CosineAnnealingLR over the remaining 8 epochs: minLr + (lr−minLr)·(1 + cos(π·t/8))/2.
            let cosAt t = minLr + (lr - minLr) * 0.5 * (1.0 + cos (Math.PI * float t / 8.0))
            expectRates s lr [ 2, lr; 4, cosAt 2; 6, cosAt 4; 9, cosAt 7; 10, minLr; 15, minLr ]
            Expect.floatClose (within 1e-15) (rate s lr 6) ((lr + minLr) / 2.0) "half way"
            // Without warm-up it is CosineAnnealingLR(T_max = total).
            let plain = Schedule.cosine 4 0 0.0
            expectRates plain 1.0 [ 0, 1.0; 1, 0.5 * (1.0 + cos (Math.PI / 4.0)); 2, 0.5; 4, 0.0 ]

        testCase "oneCycle goes from lr/25 up to lr and down to lr/25/1e4 at the last epoch, as OneCycleLR"
        <| fun () ->
            // torch.optim.lr_scheduler.OneCycleLR(max_lr=lr, total_steps=10, pct_start=0.3, anneal_strategy='cos',
            // div_factor=25, final_div_factor=1e4), one step per epoch: the peak is at step 0.3·10 − 1 = 2 and the
            // minimum at step total − 1 = 9.
            let lr, total = 0.5, 10
            let initial, final = lr / 25.0, lr / 25.0 / 1e4
            let cosAnneal a b t = b + (a - b) * 0.5 * (1.0 + cos (Math.PI * t))
            let torch e =
                let peak = 0.3 * float total - 1.0
                if float e <= peak then cosAnneal initial lr (float e / peak) else cosAnneal lr final ((float e - peak) / (float total - 1.0 - peak))
            let s = Schedule.oneCycle total
            Expect.floatClose (within 1e-15) (rate s lr 0) initial "starts at lr/25"
            Expect.floatClose (within 1e-15) ([ 0 .. total - 1 ] |> List.map (rate s lr) |> List.max) lr "peaks at lr"
            Expect.floatClose (within 1e-15) (rate s lr (total - 1)) final "ends at lr/25/1e4 in the last epoch"
            for e in 0 .. total - 1 do
                Expect.floatClose (within 1e-12) (rate s lr e) (torch e) (sprintf "epoch %d" e)

        // ---------------------------------------------------------------- 9. learning-rate callbacks
        testCase "learningRateScheduler sets the optimizer's rate each epoch and logs it"
        <| fun () ->
            scoped (fun () ->
                let x, y = lrData ()
                let seen = Collections.Generic.List<float>()
                let probe = Callback.onEpochEnd "probe" (fun c -> seen.Add c.Optimizer.LearningRate)
                let o = { quiet with Optimizer = Optimizers.sgd 0.1; Epochs = 4; BatchSize = 10; Callbacks = [ Callback.learningRateScheduler (Schedule.step 1 0.5); probe ] }
                let t = Training.fit o (Model.buildSeeded 1L [ 2L ] (dense 3)) x (Value.T y)
                let expected = [ 0.1; 0.05; 0.025; 0.0125 ]
                expectEqual "EpochLogs.LearningRate" expected (t.History |> List.map (fun l -> l.LearningRate))
                expectEqual "optimizer rate during each epoch" expected (List.ofSeq seen))

        testCase "the scheduled rate is the one the optimizer uses"
        <| fun () ->
            scoped (fun () ->
                let x, y = lrData ()
                let net = dense 8 >-> relu >-> dense 3
                let run epochs cbs =
                    Training.fit { quiet with Optimizer = Optimizers.sgd 0.1; Epochs = epochs; BatchSize = 5; Callbacks = cbs } (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                // exponential 0: lr for the first epoch, 0 afterwards, so later epochs leave the parameters alone.
                let frozenAfterOne = run 3 [ Callback.learningRateScheduler (Schedule.exponential 0.0) ]
                let one = run 1 []
                expectEqual "rates" [ 0.1; 0.0; 0.0 ] (frozenAfterOne.History |> List.map (fun l -> l.LearningRate))
                expectSameParams "3 epochs at rates 0.1, 0, 0 vs 1 epoch at 0.1" one.Model.Params frozenAfterOne.Model.Params
                // A constant schedule changes nothing.
                expectSameParams "constant schedule vs none" (run 3 []).Model.Params (run 3 [ Callback.learningRateScheduler Schedule.constant ]).Model.Params)

        testCase "reduceLROnPlateau multiplies the rate by factor after patience epochs without improvement, down to minLr"
        <| fun () ->
            scoped (fun () ->
                let x, y = lrData ()
                // A metric that never changes: every epoch after the first is a bad epoch.
                let flat = Metric.ofFunction "flat" (fun p _ -> Torch.Ones([| p.Size 0 |]))
                let o = {
                    quiet with
                        Optimizer = Optimizers.sgd 0.1
                        Epochs = 8
                        BatchSize = 10
                        Metrics = [ flat ]
                        Callbacks = [ Callback.reduceLROnPlateau { ReduceLROnPlateau.Default with Monitor = "flat"; Factor = 0.5; Patience = 2; MinLr = 0.03 } ]
                }
                let t = Training.fit o (Model.buildSeeded 1L [ 2L ] (dense 3)) x (Value.T y)
                // Epoch 1 sets the best; epochs 2–3 are bad → ×0.5 for epoch 4; 4–5 bad → 0.025 clipped to 0.03; 6–7 → stays 0.03.
                let rates = t.History |> List.map (fun l -> l.LearningRate)
                Expect.isTrue (close 1e-15 0.0 (Array.ofList rates) [| 0.1; 0.1; 0.1; 0.05; 0.05; 0.03; 0.03; 0.03 |]) (sprintf "rates %A" rates))

        testCase "reduceLROnPlateau keeps the rate while the monitored loss improves"
        <| fun () ->
            scoped (fun () ->
                let x, y = lrData ()
                let o = {
                    quiet with
                        Optimizer = Optimizers.sgd 0.05
                        Epochs = 5
                        BatchSize = 10
                        Shuffle = false
                        Callbacks = [ Callback.reduceLROnPlateau { ReduceLROnPlateau.Default with Monitor = "loss"; Patience = 1 } ]
                }
                let t = Training.fit o (Model.buildSeeded 1L [ 2L ] (dense 3)) x (Value.T y)
                let losses = t.Series "loss"
                if not (List.pairwise losses |> List.forall (fun (a, b) -> b < a - 1e-4)) then skiptest (sprintf "losses %A should decrease" losses)
                expectEqual "rates" (List.replicate 5 0.05) (t.History |> List.map (fun l -> l.LearningRate)))

        testCase "csvLogger writes a header and one row per epoch with the logged values"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = blobs 3 12 3.0 0.5 1L
                    let path = Path.Combine(dir, "log.csv")
                    let o = { quiet with Epochs = 3; BatchSize = 8; ValidationSplit = Some 0.25; Callbacks = [ Callback.csvLogger path ] }
                    let t = Training.fit o (Model.buildSeeded 1L [ 2L ] (dense 3)) x (Value.T y)
                    let ls = File.ReadAllLines path |> Array.filter (fun l -> l <> "")
                    Expect.equal ls.Length 4 (String.Join("\n", ls))
                    Expect.equal ls.[0] "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds" "ls.[0]"
                    let inv = Globalization.CultureInfo.InvariantCulture
                    for i, h in List.indexed t.History do
                        let cells = ls.[i + 1].Split(',')
                        Expect.equal cells.Length 7 ls.[i + 1]
                        Expect.equal cells.[0] (string h.Epoch) "cells.[0]"
                        for j, (_, v) in List.indexed h.Values do
                            Expect.equal (Double.Parse(cells.[j + 1], inv)) v (sprintf "row %d column %d" (i + 1) (j + 1))
                        Expect.equal (Double.Parse(cells.[5], inv)) h.LearningRate "Double.Parse(cells.[5], inv)"
                        Expect.equal (Double.Parse(cells.[6], inv)) h.Seconds "Double.Parse(cells.[6], inv)"))

        testCase "formatPath fills the epoch and logged metrics"
        <| fun () ->
            scoped (fun () ->
                let model = Model.buildSeeded 1L [ 2L ] (dense 2)
                use opt = (Optimizers.sgd 0.1).Create(Tree.leaves model.Params)
                let logs = { Epoch = 7; Values = [ "loss", 0.123456; "val_loss", 2.5 ]; Seconds = 1.0; LearningRate = 0.1 }
                let ctx = {
                    Model = model
                    Optimizer = opt
                    Epoch = 7
                    Epochs = 10
                    InitialEpoch = 0
                    Batches = 10
                    Step = 70L
                    Logs = logs
                    History = []
                    Stop = ignore
                    Restore = fun _ _ -> ()
                    Settings = []
                }
                Expect.equal (Callback.formatPath "m-{epoch:02d}-{val_loss:.2f}" ctx) "m-07-2.50" "Callback.formatPath \"m-{epoch:02d}-{val_loss:.2f}\" ctx"
                Expect.equal (Callback.formatPath "m-{epoch}-{loss:.4f}-{unknown}" ctx) "m-7-0.1235-{unknown}" "Callback.formatPath \"m-{epoch}-{loss:.4f}-{unknown}\" ctx"
                Expect.equal (Callback.formatPath "{epoch:03d}" ctx) "007" "Callback.formatPath \"{epoch:03d}\" ctx")
    ]
