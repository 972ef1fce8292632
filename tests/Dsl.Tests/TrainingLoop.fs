/// The one training loop: Keras's hooks in Keras's order (train, epoch, train and test batches) with their
/// logs; progress and history as ordinary callbacks; a NaN or infinite loss stopping training with the last
/// good weights; data sets read batch by batch giving the same training as tensors in memory; and the LR
/// range test taking fit's steps (penalties, clipping, state) without leaking tensors.
module Dsl.Tests.TrainingLoop

open System
open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Data
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

let private net = dense 16 >-> relu >-> dense 3

/// 12 training samples (3 batches of 4) and 8 validation samples (2 batches of 4).
let private hookRun (callbacks: Callback list) =
    let x, y = blobs 3 4 2.0 0.5 3L
    let vx, vy = blobs 3 3 2.0 0.5 4L
    let o = { quiet with Epochs = 2; BatchSize = 4; ValidationData = Some(DataSource.Tensors(vx.Narrow(0L, 0L, 8L), Value.T(vy.Narrow(0L, 0L, 8L)))); Callbacks = callbacks }
    Training.fit o (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)

/// Live tensors after the finalizers of earlier tests have run.
let private settledLive () =
    for _ in 1..2 do
        GC.Collect()
        GC.WaitForPendingFinalizers()
    Tensor.LiveCount

/// This module's tests, the Expecto list "TrainingLoop" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "TrainingLoop" [
        testCase "callbacks get every Keras hook in Keras's order, with batch logs"
        <| fun () ->
            scoped (fun () ->
                let cb, calls = batchSpy ()
                hookRun [ cb ] |> ignore
                let epoch e = [
                    sprintf "epoch_begin %d" e
                    for b in 0..2 do
                        sprintf "train_batch_begin %d.%d (4)" e b
                        sprintf "train_batch_end %d.%d (4) loss accuracy" e b
                    for b in 0..1 do
                        sprintf "test_batch_begin %d.%d (4)" e b
                        sprintf "test_batch_end %d.%d (4) loss accuracy" e b
                    sprintf "epoch_end %d" e
                ]
                expectEqual "hooks" ([ "begin" ] @ epoch 1 @ epoch 2 @ [ "end" ]) (List.ofSeq calls))

        testCase "train batch logs are the running means that the epoch's logs end with"
        <| fun () ->
            scoped (fun () ->
                let seen = Collections.Generic.List<int * BatchLogs>()
                let probe = Callback.onTrainBatchEnd "probe" (fun c l -> seen.Add((c.Epoch, l)))
                let t = hookRun [ probe ]
                Expect.equal seen.Count 6 "three batches in each of two epochs"
                for e in 1..2 do
                    let last = seen |> Seq.filter (fst >> (=) e) |> Seq.last |> snd
                    let logs = t.History.[e - 1]
                    for name in [ "loss"; "accuracy" ] do
                        Expect.floatClose Accuracy.veryHigh (last.TryGet name).Value (logs.TryGet name).Value (sprintf "epoch %d %s" e name)
                    Expect.isTrue (last.Values |> List.forall (fun (n, _) -> not (n.StartsWith "val_"))) "batch logs have no validation values")

        testCase "progress and history are ordinary callbacks: the history is recorded when silent, and Lines prints at epoch end"
        <| fun () ->
            scoped (fun () ->
                let order = Collections.Generic.List<string>()
                let mine = Callback.onEpochEnd "mine" (fun c -> order.Add(sprintf "mine sees %d earlier epochs" c.History.Length))
                let r, text =
                    capture (fun () ->
                        let x, y = blobs 3 4 2.0 0.5 3L in
                        Training.fit { quiet with Epochs = 3; BatchSize = 4; Verbosity = Lines; Callbacks = [ mine ] } (Model.buildSeeded 1L [ 2L ] net) x (Value.T y))
                let t =
                    match r with
                    | Ok t -> t
                    | Error e -> raise e
                Expect.equal t.History.Length 3 "the history callback recorded every epoch"
                Expect.equal (lines text |> List.filter (fun l -> l.StartsWith "Epoch ")).Length 3 "the progress callback printed one line per epoch"
                expectEqual "the history is the last callback" [ "mine sees 0 earlier epochs"; "mine sees 1 earlier epochs"; "mine sees 2 earlier epochs" ] (List.ofSeq order)
                let bar = Progress.barLine 2 5 120 469 3.0 [ "loss", 0.3121 ]
                expectContains "Epoch 2/5  120/469 [====>...............]" bar
                expectContains "- ETA: 9s - loss: 0.3121" bar)

        testCase "a NaN loss stops training, names the epoch and batch, and keeps finite weights"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 20 2.0 0.5 3L
                // A huge learning rate on a regression loss: the weights blow up within a few batches.
                let target = Torch.Randn([| 60L; 3L |]) * 1e3
                let o = { quiet with Loss = Loss.mse; Metrics = []; Optimizer = Optimizers.sgd 1e6; Epochs = 5; BatchSize = 10; Verbosity = Lines }
                let model = Model.buildSeeded 1L [ 2L ] net
                let r, text = capture (fun () -> Training.fit o model x (Value.T target))
                let t =
                    match r with
                    | Ok t -> t
                    | Error e -> raise e
                let reason = Expect.wantSome t.StopReason "a stop reason"
                expectContains "the loss is not finite at epoch" reason
                expectContains "batch" reason
                expectContains "TerminateOnNaN" reason
                expectContains reason text
                Expect.isLessThan t.History.Length 5 "training stopped early"
                for p, w in Tree.toList t.Model.Params do
                    Expect.isTrue (Scope.run (fun () -> w.IsFinite().All().ToDouble() = 1.0)) (sprintf "%s is finite" p)
                // Opting out trains every epoch and logs the non-finite loss.
                let t2 = Training.fit { o with TerminateOnNaN = false; Verbosity = Silent } model x (Value.T target)
                Expect.equal t2.History.Length 5 "all epochs ran"
                Expect.isNone t2.StopReason "no stop reason"
                Expect.isTrue (t2.Series "loss" |> List.exists (fun v -> Double.IsNaN v || Double.IsInfinity v)) "the loss went non-finite")

        testCase "a NaN loss with early stopping keeps the best epoch's weights"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 20 2.0 0.5 3L
                let model = Model.buildSeeded 1L [ 2L ] net
                // Two good epochs at a small rate, then a rate that explodes.
                let explode = { Callback.create "explode" with OnEpochBegin = fun c -> if c.Epoch = 3 then c.Optimizer.LearningRate <- 1e9 }
                let stopping = Callback.earlyStopping { EarlyStopping.Default with Patience = 5; RestoreBestWeights = true }
                let target = Torch.Randn([| 60L; 3L |])
                let o = {
                    quiet with
                        Optimizer = Optimizers.sgd 0.05
                        Epochs = 6
                        BatchSize = 10
                        Loss = Loss.mse
                        Metrics = []
                        Callbacks = [ explode; stopping ]
                        ValidationData = Some(DataSource.Tensors(x, Value.T target))
                }
                let t = Training.fit o model x (Value.T target)
                Expect.isSome t.StopReason "stopped on the non-finite loss"
                Expect.equal t.History.Length 2 "two finished epochs"
                let ev = (Training.evaluate o t.Model x (Value.T target)).["loss"]
                Expect.floatClose Accuracy.veryHigh ev (List.min (t.Series "val_loss")) "the returned weights are those of the best epoch")

        testCase "fit on a data set read batch by batch equals fit on the same tensors in memory"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 20 2.0 0.5 3L
                let o = { quiet with Epochs = 3; BatchSize = 8; ValidationSplit = Some 0.25; Seed = 5L }
                let model = Model.buildSeeded 1L [ 2L ] (dense 16 >-> relu >-> dropout 0.2 >-> dense 3)
                let inMemory = Training.fit o model x (Value.T y)
                // A data set that is not a TensorDataset: the loader gathers its batches (and prefetches them).
                let ds = Subset(TensorDataset(x, y), [| 0L .. 59L |])
                let fromSet = Training.fitData o model (DataSource.Dataset ds)
                expectEqual "history" (inMemory.History |> List.map (fun l -> l.Values)) (fromSet.History |> List.map (fun l -> l.Values))
                expectSameParams "parameters" inMemory.Model.Params fromSet.Model.Params
                let a = Training.evaluate o inMemory.Model x (Value.T y)
                let b = Training.evaluateData o fromSet.Model (DataSource.Dataset ds)
                expectEqual "evaluation" a b)

        testCase "fit trains on an image folder decoded batch by batch"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    // Two classes of 8×8 images: dark and bright, 12 each, as PNG files.
                    for c, name in [ 0, "dark"; 1, "bright" ] do
                        Directory.CreateDirectory(Path.Combine(dir, name)) |> ignore
                        for i in 0..11 do
                            let v = float32 (if c = 0 then 0.1 + 0.01 * float i else 0.8 + 0.01 * float i)
                            Image.Write(Path.Combine(dir, name, sprintf "%02d.png" i), Torch.Full([| 1L; 8L; 8L |], float v))
                    let folder = ImageFolder.Open(dir, ImageOptions.Resize(8, 8, grayscale = true))
                    let images = TransformedDataset(folder, ToFloat())
                    let o = { quiet with Epochs = 25; BatchSize = 6; Optimizer = Optimizers.adam 0.05 }
                    let t = Training.fitData o (Model.buildSeeded 1L [ 1L; 8L; 8L ] (flatten >-> dense 2)) (DataSource.Dataset images)
                    let acc = (Training.evaluateData o t.Model (DataSource.Dataset images)).["accuracy"]
                    Expect.equal acc 1.0 "dark and bright images are told apart"
                    expectEqual "classes" [ "bright"; "dark" ] (List.ofSeq folder.ClassNames)))

        testCase "findLearningRate takes fit's step: penalties and clipping change its curve, and it leaks no state"
        <| fun () ->
            let x, y = blobs 3 20 2.0 0.5 3L
            let model = Model.buildSeeded 1L [ 2L ] (dense 16 >-> batchNorm >-> relu >-> dense 3)
            let o = { quiet with BatchSize = 8 }
            let run o = Training.findLearningRate o 1e-4 1.0 20 model x (Value.T y)
            run o |> ignore
            let before = settledLive ()
            let plain = run o
            Expect.equal (settledLive ()) before "no tensor is left behind (the replaced batch-norm state is freed)"
            let penalised = run { o with Penalties = [ { Applies = (fun p -> p.EndsWith "weight"); L1 = 0.0; L2 = 10.0 } ] }
            let clipped = run { o with ClipGradValue = Some 1e-6 }
            Expect.notEqual (List.map snd penalised.Curve) (List.map snd plain.Curve) "an L2 penalty changes the trajectory"
            Expect.notEqual (List.map snd clipped.Curve) (List.map snd plain.Curve) "clipping changes the trajectory"
            x.Dispose()
            y.Dispose()
            Model.dispose model
    ]
