/// Silent wrong results found by a hostile-input campaign, each now refused or fixed: losses that broadcast
/// mismatched shapes, checkpoints loaded into another model, torn checkpoints (a SIGKILL loop over a fixed path),
/// checkpoint contents trusted blindly, NaN counted as an improvement, the CSV log overwritten on resume, and bad
/// class weights, empty evaluation data and out-of-range binary labels.
module Dsl.Tests.Reliability

open System
open System.Diagnostics
open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

let private net = dense 16 >-> relu >-> dense 3

/// The training that the checkpoint child runs (and the uninterrupted reference): deterministic from its seed.
let private childOptions (dir: string) (epochs: int) = {
    quiet with
        Optimizer = Optimizers.adam 0.01
        Epochs = epochs
        BatchSize = 4
        Seed = 9L
        Callbacks = [ Callback.modelCheckpoint { ModelCheckpoint.Default with Path = Path.Combine(dir, "last") }; Callback.csvLogger (Path.Combine(dir, "history.csv")) ]
        ResumeFrom = (if File.Exists(Path.Combine(dir, "last.safetensors")) then Some(Path.Combine(dir, "last")) else None)
}

let private childData () = blobs 3 40 2.0 0.8 5L

/// The child process of the SIGKILL test (`Dsl.Tests --checkpoint-child DIR EPOCHS`): trains, resuming from DIR/last
/// when it exists, checkpointing every epoch to that fixed path, and writes DIR/final.safetensors at the end.
let checkpointChild (dir: string) (epochs: int) =
    let x, y = childData ()
    let model = Model.buildSeeded 3L [ 2L ] (dense 64 >-> relu >-> dense 64 >-> relu >-> dense 3)
    // Each epoch's beginning is announced on stdout, so that the parent can time its kill within an epoch.
    let announce = {
        Callback.create "Announce" with
            OnEpochBegin =
                fun ctx ->
                    Console.Out.WriteLine(sprintf "epoch %d %d" ctx.Epoch (Stopwatch.GetTimestamp()))
                    Console.Out.Flush()
    }
    let o = childOptions dir epochs
    let t = Training.fit { o with Callbacks = announce :: o.Callbacks } model x (Value.T y)
    Safetensors.Save(Path.Combine(dir, "final.safetensors"), Tree.toList t.Model.Params |> List.map Collections.Generic.KeyValuePair)
    0

let private runChild (dir: string) (epochs: int) : Process =
    let dll = Reflection.Assembly.GetEntryAssembly() |> Option.ofObj |> Option.map (fun a -> a.Location) |> Option.defaultWith (fun () -> failtest "no entry assembly")
    let psi = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true)
    for a in [ dll; "--checkpoint-child"; dir; string epochs ] do
        psi.ArgumentList.Add a
    match Process.Start psi with
    | null -> failtest "could not start the child"
    | p -> p

let private finalParams (dir: string) = Safetensors.Load(Path.Combine(dir, "final.safetensors")) |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq

/// This module's tests, the Expecto list "Reliability" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Reliability" [
        testCase "element-wise losses pair predictions and targets instead of broadcasting them"
        <| fun () ->
            scoped (fun () ->
                let p = f32 [ 4L; 1L ] [| 1.0f; 2.0f; 3.0f; 4.0f |]
                let t = f32 [ 4L ] [| 1.0f; 2.0f; 3.0f; 4.5f |]
                // [N, 1] against [N]: the one documented squeeze; before, this broadcast to [N, N] and gave 2.4 here.
                let v = (Loss.mse.Compute (Value.T p) (Value.T t)).ToDouble()
                Expect.floatClose Accuracy.high v (0.25 / 4.0) "mse of [4, 1] predictions against [4] targets"
                let wide = f32 [ 4L; 2L ] (Array.create 8 1.0f)
                for loss in [ Loss.mse; Loss.mae; Loss.huber 1.0; Loss.binaryCrossEntropy ] do
                    let e = expectCatch (fun () -> loss.Compute (Value.T wide) (Value.T(f32 [ 4L ] (Array.create 4 0.5f))) |> ignore)
                    expectContains "[4, 2]" e.Message
                    expectContains "[4]" e.Message
                    expectContains "broadcast" e.Message
                // Before the first step, with the model's output and the targets' shapes.
                let x = Torch.Randn([| 8L; 2L |])
                let model = Model.buildSeeded 1L [ 2L ] (dense 1)
                let e = expectCatch (fun () -> Training.fit { quiet with Loss = Loss.mse; Metrics = [] } model x (Value.T(Torch.Randn([| 8L; 3L |]))) |> ignore)
                expectContains "(None, 1)" e.Message
                expectContains "(None, 3)" e.Message)

        testCase "a binary model given labels outside [0, 1] is refused before training"
        <| fun () ->
            scoped (fun () ->
                let x = Torch.Randn([| 6L; 2L |])
                let y = Torch.From<float32>([| 0.0f; 2.0f; 0.0f; 1.0f; 2.0f; 0.0f |], [| 6L; 1L |])
                let o = { quiet with Loss = Loss.binaryCrossEntropy; Metrics = [ Metric.binaryAccuracy ] }
                let e = expectCatch (fun () -> Training.fit o (Model.buildSeeded 1L [ 2L ] (dense 1)) x (Value.T y) |> ignore)
                expectContains "[0, 1]" e.Message
                expectContains "[0, 2]" e.Message)

        testCase "class weights of zero or NaN and empty evaluation data are refused with their reason"
        <| fun () ->
            scoped (fun () ->
                let x, y = blobs 3 4 2.0 0.5 3L
                let model = Model.buildSeeded 1L [ 2L ] net
                for w, shown in [ [| 1.0; 0.0; 1.0 |], "class weight 1 is 0"; [| nan; 1.0; 1.0 |], "class weight 0 is nan" ] do
                    let e = expectCatch (fun () -> Training.fit { quiet with ClassWeights = Some w } model x (Value.T y) |> ignore)
                    expectContains shown (e.Message.ToLowerInvariant())
                let e = expectCatch (fun () -> Training.evaluate quiet model (x.Narrow(0L, 0L, 0L)) (Value.T(y.Narrow(0L, 0L, 0L))) |> ignore)
                expectContains "no samples" e.Message)

        testCase "resuming into a model of other shapes names the first mismatch and changes nothing"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = blobs 3 4 2.0 0.5 3L
                    let small = Model.buildSeeded 1L [ 2L ] (dense 16 >-> relu >-> dense 1)
                    let path = Path.Combine(dir, "one-output")
                    use opt = (Optimizers.adam 0.01).Create(Tree.leaves small.Params)
                    Checkpoint.save path small.Params small.State (Some opt) { Epoch = 1; Step = 3L; Optimizer = "Adam"; History = [] }
                    let three = Model.buildSeeded 1L [ 2L ] net
                    let e = expectCatch (fun () -> Training.fit { quiet with ResumeFrom = Some path } three x (Value.T y) |> ignore)
                    expectContains "does not fit the model" e.Message
                    expectContains "'dense_1.weight' has shape [1, 16] but the model's is [3, 16]" e.Message
                    let e2 = expectCatch (fun () -> Model.withParams small.Params three |> ignore)
                    expectContains "dense_1.weight" e2.Message))

        testCase "checkpoint contents are checked: a flipped bit, a negative epoch, an unknown format, a learning rate of -5"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = blobs 3 4 2.0 0.5 3L
                    let model = Model.buildSeeded 1L [ 2L ] net
                    let t = Training.fit { quiet with Epochs = 1 } model x (Value.T y)
                    let path = Path.Combine(dir, "good")
                    use opt = (Optimizers.adam 0.01).Create(Tree.leaves t.Model.Params)
                    let pred, _ = Model.applyWith t.Model t.Model.Params t.Model.State Train (Rng.seed 0L) (Value.T x)
                    (Loss.crossEntropy.Compute pred (Value.T y)).Backward()
                    opt.Step()
                    Checkpoint.save path t.Model.Params t.Model.State (Some opt) { Epoch = 1; Step = 3L; Optimizer = "Adam"; History = [] }
                    let file = Checkpoint.file path
                    // A checkpoint written with other metadata, keeping the tensors (and so their hash).
                    let rewrite (name: string) (edit: string -> string) =
                        let meta = Safetensors.LoadMetadata file
                        let tensors = Safetensors.Load file
                        let json = edit meta.[Checkpoint.MetadataKey]
                        let m = dict [ Checkpoint.MetadataKey, json; Safetensors.DataHashKey, meta.[Safetensors.DataHashKey] ]
                        Safetensors.Save(Checkpoint.file (Path.Combine(dir, name)), tensors, Collections.ObjectModel.ReadOnlyDictionary(m))
                        Path.Combine(dir, name)
                    let refused (p: string) (withOptimizer: bool) (parts: string list) =
                        use o2 = (Optimizers.adam 0.01).Create(Tree.leaves t.Model.Params)
                        let e = expectCatch (fun () -> Checkpoint.load p (if withOptimizer then Some o2 else None) |> ignore)
                        for part in parts do
                            expectContains part e.Message
                        Expect.equal o2.LearningRate 0.01 "a refused checkpoint changes nothing"
                    refused (rewrite "negative" (fun j -> j.Replace("\"epoch\":1", "\"epoch\":-2"))) false [ "epoch -2"; "≥ 0" ]
                    refused (rewrite "format" (fun j -> j.Replace(Checkpoint.Format, "dsl-checkpoint-99"))) false [ "dsl-checkpoint-99" ]
                    refused (rewrite "uphill" (fun j -> j.Replace("\"hyper.0\":0.01", "\"hyper.0\":-5"))) true [ "lr is -5"; "≥ 0" ]
                    refused (rewrite "other" (fun j -> j.Replace("\"optimizer\":\"Adam\"", "\"optimizer\":\"SGD\""))) true [ "SGD optimizer"; "not of the Adam" ]
                    // A flipped bit in the data: the hash refuses it.
                    let bytes = File.ReadAllBytes file
                    bytes.[bytes.Length - 3] <- bytes.[bytes.Length - 3] ^^^ 0x10uy
                    let flipped = Path.Combine(dir, "flipped")
                    File.WriteAllBytes(Checkpoint.file flipped, bytes)
                    refused flipped false [ "SHA-256" ]
                    // The good one still loads.
                    let p, _, info = Checkpoint.load path None
                    Expect.equal info.Epoch 1 "the good checkpoint loads"
                    Params.dispose p))

        testCase "NaN is never an improvement: early stopping fires on it and best-only checkpoints never save it"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = blobs 3 6 2.0 0.5 3L
                    let seen = ref 0
                    // A metric that is NaN from the second epoch on.
                    let flaky =
                        Metric.ofFunction "flaky" (fun p _ ->
                            let v = (if seen.Value > 12 then nan else 1.0 / float (seen.Value + 1)) in
                            seen.Value <- seen.Value + 1
                            Torch.Full([| p.Size 0 |], v))
                    let o = {
                        quiet with
                            Epochs = 8
                            BatchSize = 6
                            Metrics = [ flaky ]
                            TerminateOnNaN = false
                            Callbacks = [
                                Callback.earlyStopping { EarlyStopping.Default with Monitor = "flaky"; Mode = Min; Patience = 2 }
                                Callback.modelCheckpoint {
                                    ModelCheckpoint.Default with
                                        Path = Path.Combine(dir, "best-{epoch}")
                                        Monitor = "flaky"
                                        Mode = Min
                                        SaveBestOnly = true
                                }
                            ]
                    }
                    let t = Training.fit o (Model.buildSeeded 1L [ 2L ] net) x (Value.T y)
                    let values = t.Series "flaky"
                    let firstNaN = values |> List.findIndex Double.IsNaN
                    Expect.equal t.History.Length (firstNaN + 2) "stopped two NaN epochs after the last finite one"
                    let saved = DirectoryInfo(dir).GetFiles("best-*.safetensors") |> Array.map (fun f -> f.Name) |> Array.sort |> List.ofArray
                    expectEqual "best-only checkpoints" [ for e in 1..firstNaN -> sprintf "best-%d.safetensors" e ] saved))

        testCase "csvLogger keeps the earlier epochs' rows when a fit resumes"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let x, y = childData ()
                    let model = Model.buildSeeded 3L [ 2L ] net
                    Training.fit (childOptions dir 3) model x (Value.T y) |> ignore
                    Training.fit (childOptions dir 5) model x (Value.T y) |> ignore
                    let rows = File.ReadAllLines(Path.Combine(dir, "history.csv")) |> Array.tail |> Array.map (fun r -> r.Split(',').[0])
                    expectEqual "epochs in the log" [| "1"; "2"; "3"; "4"; "5" |] rows))

        testCase "a checkpoint rewritten at a fixed path survives 15 SIGKILLs whole and resumes bit-identically"
        <| fun () ->
            withTempDir (fun root ->
                let epochs = 50
                let straight = Path.Combine(root, "straight")
                Directory.CreateDirectory straight |> ignore
                use p0 = runChild straight epochs
                let announced = p0.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
                Expect.isTrue (p0.WaitForExit 120_000) "the uninterrupted child finishes"
                Expect.equal p0.ExitCode 0 (p0.StandardError.ReadToEnd())
                // The length of an epoch, from the announced beginnings: kills land anywhere within an epoch.
                let stamps = announced |> Array.map (fun l -> int64 (l.Split(' ').[2]))
                let epochMs = max 1 (int (float (Array.last stamps - stamps.[0]) / float (stamps.Length - 1) * 1000.0 / float Stopwatch.Frequency))
                let reference = finalParams straight
                let dir = Path.Combine(root, "killed")
                Directory.CreateDirectory dir |> ignore
                let rnd = Random(15)
                let mutable resumedFrom = []
                for kill in 1..15 do
                    use p = runChild dir epochs
                    // Killed within the 1st to 3rd epoch it trains, at a random moment of that epoch (its step or its save):
                    // 15 kills cannot reach the last epoch.
                    for _ in 1 .. 1 + rnd.Next 3 do
                        p.StandardOutput.ReadLine() |> ignore
                    Threading.Thread.Sleep(rnd.Next epochMs)
                    p.Kill()
                    p.WaitForExit()
                    Expect.isFalse (File.Exists(Path.Combine(dir, "final.safetensors"))) (sprintf "kill %d came before the end of training" kill)
                    // Whatever the moment of the kill, the checkpoint is absent or whole.
                    let last = Path.Combine(dir, "last")
                    if File.Exists(Checkpoint.file last) then
                        let ps, st, info = Checkpoint.load last None
                        resumedFrom <- info.Epoch :: resumedFrom
                        Params.dispose ps
                        Params.dispose st
                use final = runChild dir epochs
                Expect.isTrue (final.WaitForExit 120_000) "the last child finishes"
                Expect.equal final.ExitCode 0 (final.StandardError.ReadToEnd())
                printfn "checkpoints found after the kills were at epochs %A" (List.rev resumedFrom)
                Expect.isGreaterThan (List.distinct resumedFrom).Length 3 "the kills landed at different epochs"
                let resumed = finalParams dir
                expectEqual "parameter names" (List.map fst reference) (List.map fst resumed)
                for (name, a), (_, b) in List.zip reference resumed do
                    Expect.isTrue (a.Equal b) (sprintf "%s is bit-identical to the uninterrupted run's" name)
                expectEqual "no temporary files are left" [] (Directory.GetFiles(dir, ".*") |> Array.map Path.GetFileName |> List.ofArray)
                let rows = File.ReadAllLines(Path.Combine(dir, "history.csv")) |> Array.tail |> Array.map (fun r -> r.Split(',').[0])
                expectEqual "every epoch logged once" [| for e in 1..epochs -> string e |] rows)
    ]
