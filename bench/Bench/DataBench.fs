/// `Bench data`: the data pipeline's performance claims (issue #5), Dsl only.
///   - loading the full Fashion-MNIST train set into tensors (target < 1 s);
///   - one shuffled, normalised epoch of batches of 128 over the 60,000 images through DataLoader,
///     against one epoch of training a small MLP (784 → 256 → 10, Adam) on them through Training.fit,
///     which uses the same loader (target: batching < 5 % of the MLP epoch);
///   - rendering the 18,000 clocks of seed 004.
/// Each figure is the minimum of a few repeats (the machine is shared).
module Bench.DataBench

open System
open System.Diagnostics
open Dsl
open Dsl.Engine
open Dsl.Data

let private seconds (f: unit -> unit) =
    let w = Stopwatch.StartNew()
    f ()
    w.Elapsed.TotalSeconds

let private best (reps: int) (f: unit -> unit) = List.init reps (fun _ -> seconds f) |> List.min

/// One epoch of batches: shuffle, gather, normalise, and touch every batch (its first element), as a
/// training loop would before its step.
let private batchEpoch (x: Tensor) (y: Tensor) (prefetch: int) (epoch: int) =
    let options = LoaderOptions(BatchSize = 128, Shuffle = true, Seed = 1L, Prefetch = System.Nullable prefetch, Transform = Normalize(0.2860, 0.3530))
    let loader = DataLoader(x, y, options)
    let mutable checksum = 0.0
    for b in loader.Epoch epoch do
        use _ = DisposeScope.Enter()
        checksum <- checksum + b.Inputs.Narrow(0L, 0L, 1L).Narrow(1L, 0L, 1L).ToDouble()
    checksum

let run (args: string list) =
    let reps =
        match args with
        | [ "--reps"; n ] -> int n
        | _ -> 3
    printfn "data: %d cores, %d intra-op threads, minimum of %d repeats" Environment.ProcessorCount Torch.NumThreads reps
    let load () =
        let struct (images, labels) = FashionMnist.Load(true)
        images.Dispose()
        labels.Dispose()
    load ()
    printfn "data fmnist_load_uint8 s=%.3f (60,000 images and labels into tensors; target < 1 s)" (best reps load)
    let toFloat () =
        let x, y = Datasets.fashionMnist true in
        x.Dispose()
        y.Dispose()
    printfn "data fmnist_load_float s=%.3f (the same, as float32 [N, 1, 28, 28] in [0, 1]: Datasets.fashionMnist)" (best reps toFloat)

    let x, y = Datasets.fashionMnist true
    let flat = x.Reshape(-1L, 784L)
    let live = Tensor.LiveCount
    let mutable epoch = 0
    let batching prefetch =
        best reps (fun () ->
            epoch <- epoch + 1
            batchEpoch flat y prefetch epoch |> ignore)
    batching 0 |> ignore
    let batch0, batch2 = batching 0, batching 2
    let options = { FitOptions.Default with Optimizer = Optimizers.adam 1e-3; Epochs = 1; BatchSize = 128; Metrics = []; Verbosity = Silent }
    let mlp = Model.buildSeeded 0L [ 784L ] (dense 256 >-> relu >-> dense 10)
    let fitEpoch () = Training.fit options mlp flat (Value.T y) |> fun t -> Params.dispose t.Model.Params
    fitEpoch ()
    let train = best (max 2 (reps - 1)) fitEpoch
    printfn "data batch_epoch s=%.3f (shuffled, normalised, batch 128, on the training thread: prefetch 0)" batch0
    printfn "data batch_epoch_prefetch s=%.3f (the same made on the loader's background thread: prefetch 2)" batch2
    printfn "data mlp_epoch s=%.3f (784-256-10, Adam, batch 128, Training.fit)" train
    printfn "data batching_share pct=%.1f (batch_epoch / mlp_epoch; target < 5)" (100.0 * batch0 / train)
    Params.dispose mlp.Params
    printfn "data live_tensors delta=%d (after every batch and trained model is freed)" (Tensor.LiveCount - live)
    flat.Dispose()
    x.Dispose()
    y.Dispose()

    let clocks () = use set = Clocks.Generate(18_000, 4L) in ()
    printfn "data clocks_18000 s=%.2f (150x150 grayscale, rendered with %d threads)" (best (max 1 (reps - 1)) clocks) Environment.ProcessorCount
    0
