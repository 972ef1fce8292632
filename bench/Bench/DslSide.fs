/// The Dsl side of every benchmark, written as a Dsl user writes it: models and training steps with the
/// F# DSL (layers, Model.build / Model.applyWith, Loss, Optimizers, Training.fit), plain ops with the
/// engine (Dsl.Engine.Tensor). `Bench worker` runs this side behind the shared protocol (Protocol.fs).
module Bench.DslSide

open System
open System.Text.Json.Nodes
open Dsl
open Dsl.Engine
open Dsl.Data
open Dsl.Engine.Optim
open Bench.Protocol

// ---------------------------------------------------------------- models (the same as the other sides)

/// An MLP 10 → width → width → 1 (B2 at 256; scaling series S2 at other widths).
let mlpOfWidth (width: int) = dense width >-> relu >-> dense width >-> relu >-> dense 1

/// B2: 10 → 256 → 256 → 1.
let mlp = mlpOfWidth 256

/// B3: conv 1→32 3×3 pad 1, ReLU, max-pool 2, conv 32→64 3×3 pad 1, ReLU, max-pool 2, dense 3136→128, ReLU, dense 128→10.
let cnn =
    let pad1 = { ConvOptions.Default with Padding = Pad 1 }
    serial [ conv2dWith pad1 32 (3, 3); relu; maxPool 2; conv2dWith pad1 64 (3, 3); relu; maxPool 2; flatten; dense 128; relu; dense 10 ]

/// B4: 784 → 256 → 10.
let fmnistMlp = dense 256 >-> relu >-> dense 10

/// A fixed-batch training step (B2, B3, B5): forward, loss, zero grads (dropped, as PyTorch 2 does),
/// backward, Adam step; every temporary freed by the step's DisposeScope.
type StepBench(model: Model, x: Tensor, y: Tensor, loss: Loss, optimizerSpec: OptimizerSpec) =
    let ps = model.Params
    let optimizer = optimizerSpec.Create(Tree.leaves ps)
    let rng = Rng.seed 0L
    let input, target = Value.T x, Value.T y

    member _.Model = model
    member _.Params = ps
    member _.Loss = loss
    member _.Optimizer = optimizer
    member _.Input = input
    member _.Target = target

    member _.Step() =
        use _ = DisposeScope.Enter()
        let pred, _ = Model.applyWith model ps model.State Train rng input
        let l = loss.Compute pred target
        optimizer.ZeroGrad()
        l.Backward()
        optimizer.Step()

    interface IDisposable with
        member _.Dispose() =
            optimizer.Dispose()
            Model.dispose model
            x.Dispose()
            y.Dispose()

/// B2's step at another width (S2): batch 256, BCE with logits, Adam.
let makeMlpStep (width: int) =
    Torch.ManualSeed 0L
    let x = Torch.Randn([| 256L; 10L |])
    let y = Torch.Randint(0L, 2L, [| 256L; 1L |], dtype = DType.Float32)
    new StepBench(Model.build [ 10L ] (mlpOfWidth width), x, y, Loss.binaryCrossEntropy, Optimizers.adam 1e-3)

let makeB2 () = makeMlpStep 256

/// B3's step at another batch size (S1): cross-entropy, Adam.
let makeCnnStep (batch: int) =
    Torch.ManualSeed 0L
    let x = Torch.Randn([| int64 batch; 1L; 28L; 28L |])
    let y = Torch.Randint(0L, 10L, [| int64 batch |])
    new StepBench(Model.build [ 1L; 28L; 28L ] cnn, x, y, Loss.crossEntropy, Optimizers.adam 1e-3)

let makeB3 () = makeCnnStep 128

/// B8: one SGD step (lr 0.01, momentum 0.9) of a zoo architecture at 224×224, cross-entropy over 1000 classes.
let makeZooStep (architecture: ZooOptions -> Layer) (batch: int64) =
    Torch.ManualSeed 0L
    let x = Torch.Randn([| batch; 3L; 224L; 224L |])
    let y = Torch.Randint(0L, 1000L, [| batch |])
    let model = Zoo.build [ 3L; 224L; 224L ] Zoo.Default architecture
    new StepBench(model, x, y, Loss.crossEntropy, Optimizers.sgdWith 0.01 0.9 false 0.0)

/// B9: ResNet18 inference (Eval, no gradient) on a fixed batch of 64 images at 224×224.
type InferBench() =
    do Torch.ManualSeed 0L
    let model = Zoo.build [ 3L; 224L; 224L ] Zoo.Default Zoo.resnet18
    let x = Torch.Randn([| 64L; 3L; 224L; 224L |])
    let rng = Rng.seed 0L
    let input = Value.T x

    member _.Run() =
        use _ = Autograd.NoGrad()
        use _ = DisposeScope.Enter()
        Model.applyWith model model.Params model.State Eval rng input |> ignore

    interface IDisposable with
        member _.Dispose() =
            Model.dispose model
            x.Dispose()

/// The machine's compute limit as the engine reaches it: GFLOP/s of an n×n×n float32 matrix product (2n³ FLOPs)
/// with every intra-op thread (the engine's split GEMM), one value per rep (each the mean over `iters` products).
let peakGemm (reps: int) (iters: int) (warm: int) (n: int64) =
    use a = Torch.Randn([| n; n |])
    use b = Torch.Randn([| n; n |])
    let flops = 2.0 * float n * float n * float n
    measure reps iters warm 1.0 (fun () ->
        use c = a.Mm b
        ())
    |> List.map (fun s -> flops / s / 1e9)

/// The machine's memory limit: GB/s of copying a large float32 tensor into another (bytes read + written),
/// with every intra-op thread, one value per rep.
let peakCopy (reps: int) (iters: int) (warm: int) (elements: int64) =
    use src = Torch.Randn([| elements |])
    use dst = Torch.Empty([| elements |])
    let bytes = 2.0 * 4.0 * float elements
    measure reps iters warm 1.0 (fun () -> dst.Copy_ src |> ignore) |> List.map (fun s -> bytes / s / 1e9)

/// Fashion-MNIST train set as float32 [N, 784] in [0, 1] and int64 labels, through Dsl's own loader.
let loadFashionMnist () =
    let struct (images, labels) = FashionMnist.Load(true)
    use images = images
    use f = images.To(DType.Float32)
    use scaled = f / 255.0
    scaled.Reshape(-1L, 784L), labels

/// One epoch through Dsl's own batch loader (Dsl.Data.DataLoader with its defaults: seeded
/// shuffling, index_select per batch, batches made on the training thread (no transform, so no prefetch thread), each batch freed
/// when the next is requested) and a DSL training step, continuing to train `ps` (as the other sides
/// continue to train their model); a fresh Adam per epoch, as on the other sides.
let fmnistEpoch (model: Model) (ps: Params) (x: Tensor) (y: Tensor) (epoch: int) (prefetch: int option) =
    use optimizer = (Optimizers.adam 1e-3).Create(Tree.leaves ps)
    let loader = DataLoader(x, y, LoaderOptions(BatchSize = 128, Shuffle = true, Seed = 0L, Prefetch = Option.toNullable prefetch))
    loader.NextEpoch <- epoch
    let rng = Rng.seed 0L
    let mutable lossSum = 0.0
    for batch in loader do
        use _ = DisposeScope.Enter()
        let pred, _ = Model.applyWith model ps model.State Train rng (Value.T batch.Inputs)
        let l = Loss.crossEntropy.Compute pred (Value.T batch.Labels)
        optimizer.ZeroGrad()
        l.Backward()
        optimizer.Step()
        lossSum <- lossSum + l.ToDouble() * float batch.Count // as the other sides: the epoch's mean loss
    lossSum / float (x.Size 0)

/// The same epoch through Training.fit (which batches with its own randperm + index_select); `Bench profile B4` compares them.
let fmnistFitEpoch (model: Model) (x: Tensor) (y: Tensor) (seed: int64) =
    let options = {
        FitOptions.Default with
            Loss = Loss.crossEntropy
            Optimizer = Optimizers.adam 1e-3
            Metrics = []
            Epochs = 1
            BatchSize = 128
            Shuffle = true
            Seed = seed
            Verbosity = Silent
    }
    let trained = Training.fit options model x (Value.T y)
    Model.dispose trained.Model

/// VmHWM (the peak resident set) of this process in kB (Linux), or -1.
let peakRssKb () : int64 =
    try
        IO.File.ReadLines "/proc/self/status"
        |> Seq.tryFind (fun l -> l.StartsWith "VmHWM:")
        |> Option.map (fun l -> l.Substring(6).Trim().Split(' ').[0] |> int64)
        |> Option.defaultValue -1L
    with _ ->
        -1L

/// S4 (in a fresh process): `n` Fashion-MNIST-shaped samples (float32 [n, 1, 28, 28] in [0, 1], int64
/// labels) made in memory, then one shuffled epoch of batches of 128 through Dsl.Data.DataLoader with its
/// defaults, every batch's inputs read (summed). The value is the process's peak RSS (VmHWM) in MB.
let loaderRss (n: int) : JsonObject =
    let mb (kb: int64) = float kb / 1024.0
    let before = rssKb ()
    Torch.ManualSeed 0L
    use x = Torch.Rand([| int64 n; 1L; 28L; 28L |])
    use y = Torch.Randint(0L, 10L, [| int64 n |])
    let withData = rssKb ()
    let watch = Diagnostics.Stopwatch.StartNew()
    let loader = DataLoader(x, y, LoaderOptions(BatchSize = Scaling.loaderBatch, Shuffle = true, Seed = 0L))
    let mutable samples, sum = 0L, 0.0
    for batch in loader do
        use s = batch.Inputs.Sum()
        sum <- sum + s.ToDouble()
        samples <- samples + batch.Count
    let epoch = watch.Elapsed.TotalSeconds
    let peak = peakRssKb ()
    if samples <> int64 n then failwithf "S4: the loader gave %d samples of %d" samples n
    obj [
        "bench", str (Scaling.request "S4" n)
        "unit", str "MB"
        "values", numbers [ mb peak ]
        "rss_before_data_mb", num (mb before)
        "rss_with_data_mb", num (mb withData)
        "epoch_s", num epoch
        "checksum", num sum
    ]

// ---------------------------------------------------------------- the worker

type Worker() =
    let mutable b2: StepBench option = None
    let mutable b3: StepBench option = None
    let mutable b4: (Model * Tensor * Tensor) option = None
    let cached = Collections.Generic.Dictionary<string, IDisposable>()
    /// The benchmark object for `key`, made once per worker.
    let once (key: string) (make: unit -> #IDisposable) : 'T =
        match cached.TryGetValue key with
        | true, v -> v :?> 'T
        | _ ->
            let v = make ()
            cached[key] <- v
            v :> obj :?> 'T
    let mutable epochs = 0
    /// The scaling point being measured (S1/S2 at one batch size or width), freed when another is requested.
    let mutable scaling: (string * StepBench) option = None
    let scalingStep (name: string) (make: unit -> StepBench) =
        match scaling with
        | Some(n, sb) when n = name -> sb
        | previous ->
            previous |> Option.iter (fun (_, sb) -> (sb :> IDisposable).Dispose())
            scaling <- None
            let sb = make ()
            scaling <- Some(name, sb)
            sb

    /// B5: RSS growth over `steps` B2 steps after warm-up, and live tensor handles before and after.
    /// Warm-up runs at least `warm` steps and until the GC has collected generation 0 twice (at most
    /// 20 × `warm` steps): until then RSS grows as the GC commits its generation-0 budget for the first
    /// time (~16 MB here; a one-time cost, reported as warm_up_rss_growth_mb), which is not a leak.
    member _.Memory(steps: int, warm: int) : JsonObject =
        let rssStart = rssKb ()
        use sb = makeB2 ()
        let gc0 = GC.CollectionCount 0
        let mutable warmSteps = 0
        while warmSteps < warm || (GC.CollectionCount 0 - gc0 < 2 && warmSteps < 20 * warm) do
            sb.Step()
            warmSteps <- warmSteps + 1
        let settle () =
            GC.Collect()
            GC.WaitForPendingFinalizers()
            GC.Collect()
        settle ()
        let rss0, live0 = rssKb (), Tensor.LiveCount
        let gcBefore = GC.CollectionCount 0
        let trace = Collections.Generic.List<float>()
        for i in 1..steps do
            sb.Step()
            if i % 500 = 0 then trace.Add(float (rssKb () - rss0) / 1024.0)
        let gcDuring = GC.CollectionCount 0 - gcBefore
        settle ()
        let rss1, live1 = rssKb (), Tensor.LiveCount
        let growth = float (rss1 - rss0) / 1024.0
        obj [
            "bench", str "B5"
            "unit", str "MB"
            "values", numbers [ growth ]
            "rss_before_mb", num (float rss0 / 1024.0)
            "rss_after_mb", num (float rss1 / 1024.0)
            "live_before", int64n live0
            "live_after", int64n live1
            "steps", num (float steps)
            "warm_steps", num (float warmSteps)
            "warm_up_rss_growth_mb", num (float (rss0 - rssStart) / 1024.0)
            "gen0_collections_during_steps", num (float gcDuring)
            "trace_mb_every_500_steps_no_forced_gc", numbers trace
        ]

    member this.Run(r: Request) : JsonObject =
        let reply unit values = obj [ "bench", str r.Bench; "unit", str unit; "values", numbers values ]
        match r.Bench with
        | "B1" ->
            use a = Torch.Ones([| 1L |])
            use b = Torch.Ones([| 1L |])
            let add () =
                use c = a + b
                ()
            reply "us" (measure r.Reps r.Iters r.Warm 1e6 add)
        | "B2" ->
            let sb =
                match b2 with
                | Some s -> s
                | None ->
                    (let s = makeB2 () in
                     b2 <- Some s
                     s)
            reply "ms" (measure r.Reps r.Iters r.Warm 1e3 sb.Step)
        | "B3" ->
            let sb =
                match b3 with
                | Some s -> s
                | None ->
                    (let s = makeB3 () in
                     b3 <- Some s
                     s)
            reply "ms" (measure r.Reps r.Iters r.Warm 1e3 sb.Step)
        | "B4" ->
            let model, x, y =
                match b4 with
                | Some t -> t
                | None ->
                    let x, y = loadFashionMnist ()
                    let t = Model.buildSeeded 0L [ 784L ] fmnistMlp, x, y
                    b4 <- Some t
                    t
            reply
                "s"
                (measure r.Reps r.Iters r.Warm 1.0 (fun () ->
                    epochs <- epochs + 1
                    fmnistEpoch model model.Params x y epochs None |> ignore))
        | "B5" -> this.Memory(r.Iters, r.Warm)
        | "B8R" ->
            let sb: StepBench = once "B8R" (fun () -> makeZooStep Zoo.resnet18 8L)
            reply "ms" (measure r.Reps r.Iters r.Warm 1e3 sb.Step)
        | "B8M" ->
            let sb: StepBench = once "B8M" (fun () -> makeZooStep Zoo.mobilenetV2 16L)
            reply "ms" (measure r.Reps r.Iters r.Warm 1e3 sb.Step)
        | "B9" ->
            let ib: InferBench = once "B9" (fun () -> new InferBench())
            reply "ms" (measure r.Reps r.Iters r.Warm 1e3 ib.Run)
        | name when (Scaling.parse name).IsSome ->
            match Scaling.parse name with
            | Some("S1", batch) -> reply "ms" (measure r.Reps r.Iters r.Warm 1e3 (scalingStep name (fun () -> makeCnnStep batch)).Step)
            | Some("S2", width) -> reply "ms" (measure r.Reps r.Iters r.Warm 1e3 (scalingStep name (fun () -> makeMlpStep width)).Step)
            | Some("S4", n) -> loaderRss n
            | _ -> failwithf "%s: series S3 runs B2 and B3 on workers started with each thread count; it has no request of its own" name
        | "PEAK_GEMM" -> reply "GFLOP/s" (peakGemm r.Reps r.Iters r.Warm 2048L)
        | "PEAK_COPY" -> reply "GB/s" (peakCopy r.Reps r.Iters r.Warm (64L * 1024L * 1024L))
        | other -> failwithf "unknown benchmark %s" other

module private LibC =
    [<System.Runtime.InteropServices.DllImport("libc.so.6")>]
    extern nativeint getenv(string name)

/// A variable of the native environment (where the engine sets OMP_WAIT_POLICY before libtorch loads), or "".
let nativeEnv (name: string) =
    match LibC.getenv name with
    | 0n -> ""
    | p ->
        match System.Runtime.InteropServices.Marshal.PtrToStringUTF8 p with
        | null -> ""
        | s -> s

/// `Bench worker [--threads N] [--blas N]`: the Dsl side behind the protocol. Without --threads the
/// engine's defaults apply untouched (B6's "default configuration").
let main (args: string list) =
    let rec opts (threads: int option, blas: int option) args =
        match args with
        | "--threads" :: n :: rest -> opts (Some(int n), blas) rest
        | "--blas" :: n :: rest -> opts (threads, Some(int n)) rest
        | [] -> threads, blas
        | a :: _ -> failwithf "worker: unknown argument %s" a
    let threads, blas = opts (None, None) args
    threads |> Option.iter (fun n -> Torch.NumThreads <- n)
    blas |> Option.iter (fun n -> Torch.BlasThreads <- n)
    let out = Console.Out
    out.WriteLine(
        line (
            obj [
                "ready", boolean true
                "side", str "dsl"
                "threads", num (float Torch.NumThreads)
                "blas_threads", num (float Torch.BlasThreads)
                "torch", str Torch.LoadedVersion
                "omp_wait_policy", str (nativeEnv "OMP_WAIT_POLICY")
                "dotnet", str (Environment.Version.ToString())
            ]
        )
    )
    out.Flush()
    let worker = Worker()
    let mutable go = true
    while go do
        match Console.In.ReadLine() with
        | null -> go <- false
        | l ->
            match Request.Parse l with
            | None -> go <- l.Trim() = "" // blank lines are ignored; quit ends
            | Some r ->
                let reply =
                    try
                        worker.Run r
                    with e ->
                        obj [ "bench", str r.Bench; "error", str (e.GetType().Name + ": " + e.Message) ]
                out.WriteLine(line reply)
                out.Flush()
    0
