/// Checkpoints and resuming: save/load round trips, and training straight to epoch n equals resuming
/// from the checkpoint of epoch k and training on to n with the same seed, bit for bit (shuffling,
/// dropout, batch-norm state and Adam's moments included).
module Dsl.Tests.Checkpoints

open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

let private net = dense 32 >-> batchNorm >-> relu >-> dropout 0.2 >-> dense 3

let private data () = blobs 3 20 2.0 1.0 21L

let private options (dir: string) (callbacks: Callback list) = {
    quiet with
        Optimizer = Optimizers.adam 0.01
        Epochs = 6
        BatchSize = 8
        Shuffle = true
        Seed = 17L
        ValidationSplit = Some 0.2
        Callbacks = Callback.modelCheckpoint { ModelCheckpoint.Default with Path = Path.Combine(dir, "ckpt-{epoch:02d}") } :: callbacks
}

let private expectSameHistory (what: string) (expected: EpochLogs list) (actual: EpochLogs list) =
    expectEqual (what + ": epochs") (expected |> List.map (fun l -> l.Epoch)) (actual |> List.map (fun l -> l.Epoch))
    for e, a in List.zip expected actual do
        expectEqual (sprintf "%s: values of epoch %d" what e.Epoch) e.Values a.Values
        expectEqual (sprintf "%s: learning rate of epoch %d" what e.Epoch) e.LearningRate a.LearningRate

/// This module's tests, the Expecto list "Checkpoints" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Checkpoints" [
        testCase "resuming from epoch k and training to n equals training straight to n"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = data ()
                    let straightDir = Path.Combine(dir, "straight")
                    let straight = Training.fit (options straightDir []) (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    for k in [ 2; 5 ] do
                        let resumedDir = Path.Combine(dir, sprintf "resumed-%d" k)
                        let o = { options resumedDir [] with ResumeFrom = Some(Path.Combine(straightDir, sprintf "ckpt-%02d" k)) }
                        // A freshly built model with another seed: everything must come from the checkpoint.
                        let resumed = Training.fit o (Model.buildSeeded 99L [ 2L ] net) x (Value.T y)
                        // The resumed fit continues the checkpoint's history: its result holds every epoch once.
                        expectSameHistory (sprintf "resumed at %d" k) straight.History resumed.History
                        expectSameParams (sprintf "parameters after resuming at %d" k) straight.Model.Params resumed.Model.Params
                        expectSameParams (sprintf "batch-norm state after resuming at %d" k) straight.Model.State resumed.Model.State
                        // The resumed run's own checkpoints carry on the epoch and step counters.
                        let _, _, info = Checkpoint.load (Path.Combine(resumedDir, "ckpt-06")) None
                        let _, _, straightInfo = Checkpoint.load (Path.Combine(straightDir, "ckpt-06")) None
                        expectEqual
                            (sprintf "counters after resuming at %d" k)
                            (straightInfo.Epoch, straightInfo.Step, straightInfo.Optimizer)
                            (info.Epoch, info.Step, info.Optimizer)
                        expectSameHistory (sprintf "checkpointed history after resuming at %d" k) straightInfo.History info.History))

        testCase "resuming with a learning-rate schedule continues the schedule of the base rate"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = data ()
                    let schedule () = [ Callback.learningRateScheduler (Schedule.step 1 0.5) ]
                    let straightDir = Path.Combine(dir, "straight")
                    let straight = Training.fit (options straightDir (schedule ())) (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    expectEqual "straight rates" [ 0.01; 0.005; 0.0025; 0.00125; 0.000625; 0.0003125 ] (straight.History |> List.map (fun l -> l.LearningRate))
                    let o = { options (Path.Combine(dir, "resumed")) (schedule ()) with ResumeFrom = Some(Path.Combine(straightDir, "ckpt-03")) }
                    let resumed = Training.fit o (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    expectSameHistory "resumed at 3 with a schedule" straight.History resumed.History
                    expectSameParams "parameters" straight.Model.Params resumed.Model.Params))

        testCase "resuming from the last epoch trains nothing and returns the checkpoint's parameters and history"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = data ()
                    let straight = Training.fit (options dir []) (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    let o = { options (Path.Combine(dir, "again")) [] with ResumeFrom = Some(Path.Combine(dir, "ckpt-06")) }
                    let resumed = Training.fit o (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    expectSameHistory "resumed.History" straight.History resumed.History
                    expectSameParams "parameters" straight.Model.Params resumed.Model.Params))

        testCase "save and load round-trip parameters, state, counters and optimizer state"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = data ()
                    let t = Training.fit { quiet with Epochs = 1; BatchSize = 8 } (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    let path = Path.Combine(dir, "manual")
                    use opt = (Optimizers.adam 0.02).Create(Tree.leaves t.Model.Params)
                    // One step so that Adam has moments to save.
                    let pred, _ = Model.applyWith t.Model t.Model.Params t.Model.State Train (Rng.seed 0L) (Value.T x)
                    (Loss.crossEntropy.Compute pred (Value.T y)).Backward()
                    opt.Step()
                    // A history with a non-finite loss (JSON has no literal for it) round-trips too.
                    let history = [
                        for e in 1..4 ->
                            { Epoch = e; Values = [ "loss", (if e = 3 then nan else 1.0 / float e); "accuracy", infinity ]; Seconds = 0.25 * float e; LearningRate = 0.02 }
                    ]
                    Checkpoint.save path t.Model.Params t.Model.State (Some opt) { Epoch = 4; Step = 40L; Optimizer = "Adam"; History = history }
                    expectEqual "one file" [ "manual.safetensors" ] (DirectoryInfo(dir).GetFiles("manual*") |> Array.map (fun f -> f.Name) |> List.ofArray)
                    let model2 = Model.buildSeeded 5L [ 2L ] net
                    use opt2 = (Optimizers.adam 0.5).Create(Tree.leaves model2.Params)
                    let p, s, info = Checkpoint.load path (Some opt2)
                    expectEqual "counters" (4, 40L, "Adam") (info.Epoch, info.Step, info.Optimizer)
                    expectEqual "history epochs" (history |> List.map _.Epoch) (info.History |> List.map _.Epoch)
                    expectEqual
                        "history seconds and rates"
                        (history |> List.map (fun e -> e.Seconds, e.LearningRate))
                        (info.History |> List.map (fun e -> e.Seconds, e.LearningRate))
                    // NaN is not equal to itself, so compare the printed values.
                    expectEqual "history values" (history |> List.map (fun e -> sprintf "%A" e.Values)) (info.History |> List.map (fun e -> sprintf "%A" e.Values))
                    expectSameParams "params" t.Model.Params p
                    expectSameParams "state" t.Model.State s
                    Expect.equal opt2.LearningRate 0.02 "the optimizer's hyper-parameters are restored"
                    let struct (a, sa) = opt.GetState()
                    let struct (b, sb) = opt2.GetState()
                    expectEqual "optimizer state names" (a |> Seq.map (fun kv -> kv.Key) |> List.ofSeq) (b |> Seq.map (fun kv -> kv.Key) |> List.ofSeq)
                    for ka, kb in Seq.zip a b do
                        Expect.isTrue (ka.Value.Equal kb.Value) (sprintf "optimizer state %s" ka.Key)
                    expectEqual
                        "optimizer scalars"
                        (sa |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq |> List.sort)
                        (sb |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq |> List.sort)))

        testCase "loading a checkpoint that does not exist names the missing file"
        <| fun () ->
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "nothing-here")
                let e = expectThrows<FileNotFoundException>(fun () -> Checkpoint.load path None |> ignore)
                expectContains "nothing-here.safetensors" e.Message
                let resume = { quiet with ResumeFrom = Some path }
                scoped (fun () ->
                    let x, y = data ()
                    expectThrows<FileNotFoundException>(fun () -> Training.fit resume (Model.buildSeeded 1L [ 2L ] net) x (Value.T y) |> ignore) |> ignore))
    ]
