/// `Bench profile`: where the Dsl side's time goes, with Stopwatch breakdowns (no external tools).
///  - B1: the full `use c = a + b` against the same two native calls made directly (raw P/Invoke into
///    libdsl_native.so, no Tensor object), and the cost of one trivial native call.
///  - B2/B3: a training step split into forward (Model.applyWith), loss, zero_grad, backward, optimizer
///    step and the scope's disposal, plus the same forward written with engine calls only (no DSL).
///  - B4: Training.fit's epoch against a hand-written engine loop over the same batches.
module Bench.Profile

#nowarn "9" "51"

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open Dsl
open Dsl.Engine
open Bench.Protocol
open Bench.DslSide

/// The engine's tensor options struct (dsl_options in native/dsl_api.h).
[<Struct; StructLayout(LayoutKind.Sequential)>]
type NativeOptions =
    val mutable DType: int
    val mutable DeviceType: int
    val mutable DeviceIndex: int
    val mutable RequiresGrad: int

/// Direct calls into the engine's shim, bypassing Dsl.Engine.Tensor (for the floor of B1).
module Raw =
    [<Literal>]
    let Lib = "dsl_native_raw"

    [<DllImport(Lib)>]
    extern nativeint dsl_tensor_ones(int64* shape, int n, NativeOptions o)

    [<DllImport(Lib)>]
    extern nativeint dsl_math_binary(int op, nativeint a, nativeint b)

    [<DllImport(Lib)>]
    extern void dsl_tensor_free(nativeint t)

    [<DllImport(Lib)>]
    extern int64 dsl_tensor_live_count()

    let mutable private registered = false

    /// Points `dsl_native_raw` at the libdsl_native.so the engine loaded (same file, same instance).
    let register () =
        if not registered then
            registered <- true
            let engineDir =
                match Path.GetDirectoryName(typeof<Tensor>.Assembly.Location) with
                | null -> invalidOp "the engine assembly has no folder (loaded from memory?), so libdsl_native.so cannot be found"
                | d -> d
            let path = Path.Combine(engineDir, "libdsl_native.so")
            NativeLibrary.SetDllImportResolver(Reflection.Assembly.GetExecutingAssembly(), DllImportResolver(fun name _ _ -> if name = Lib then NativeLibrary.Load path else 0n))

/// glibc's allocator statistics (struct mallinfo2: ten size_t fields).
[<Struct; StructLayout(LayoutKind.Sequential)>]
type MallInfo2 =
    val Arena: unativeint
    val Ordblks: unativeint
    val Smblks: unativeint
    val Hblks: unativeint
    val Hblkhd: unativeint
    val Usmblks: unativeint
    val Fsmblks: unativeint
    val Uordblks: unativeint
    val Fordblks: unativeint
    val Keepcost: unativeint

module Libc =
    [<DllImport("libc.so.6")>]
    extern MallInfo2 mallinfo2()

let private per (n: int) (f: unit -> unit) =
    // best of 5 reps, µs per call
    [
        for _ in 1..5 do
            let t0 = Stopwatch.GetTimestamp()
            for _ in 1..n do
                f ()
            yield Stopwatch.GetElapsedTime(t0).TotalMilliseconds * 1000.0 / float n
    ]
    |> List.min

let b1 () =
    Raw.register ()
    let n = 200000
    use a = Torch.Ones([| 1L |])
    use b = Torch.Ones([| 1L |])
    let full () =
        use c = a + b
        ()
    let scoped () =
        // 100 ops per scope, freed together when the scope ends
        use _ = DisposeScope.Enter()
        for _ in 1..100 do
            a + b |> ignore
    let mutable shape = 1L
    let opts = NativeOptions(DType = 6) // float32
    let ha = Raw.dsl_tensor_ones (&&shape, 1, opts)
    let hb = Raw.dsl_tensor_ones (&&shape, 1, opts)
    let raw () = Raw.dsl_tensor_free (Raw.dsl_math_binary (0, ha, hb))
    let inPlace () = a.Add_(b) |> ignore
    for f in [ full; raw; inPlace ] do
        per 20000 f |> ignore
    per 200 scoped |> ignore
    let tFull, tRaw = per n full, per n raw
    let tScoped = per (n / 100) scoped / 100.0
    let tInPlace = per n inPlace
    let bytes0 = GC.GetAllocatedBytesForCurrentThread()
    for _ in 1..1000 do
        full ()
    let bytesPerOp = float (GC.GetAllocatedBytesForCurrentThread() - bytes0) / 1000.0
    let tTrivial = per n (fun () -> Raw.dsl_tensor_live_count () |> ignore)
    let tAlloc = per n (fun () -> GC.KeepAlive(Object()))
    Raw.dsl_tensor_free ha
    Raw.dsl_tensor_free hb
    printfn "B1 (µs per op, best of 5 × %d):" n
    printfn "  use c = a + b (Dsl, dispose each)        %7.3f" tFull
    printfn "  a + b inside a DisposeScope (100/scope)  %7.3f" tScoped
    printfn "  raw dsl_math_binary + dsl_tensor_free    %7.3f   (the shim and libtorch: the floor)" tRaw
    printfn "  a.Add_(b) in place (no new handle)       %7.3f" tInPlace
    printfn "  one trivial native call (live count)     %7.3f" tTrivial
    printfn "  managed overhead of the full op          %7.3f   (%.0f%% of the op; %.0f managed bytes allocated per op)" (tFull - tRaw) (100.0 * (tFull - tRaw) / tFull) bytesPerOp

type private Phases() =
    member val T = Array.zeroCreate<float> 7

let private stepPhases (label: string) (sb: StepBench) (steps: int) (engineForward: (Tensor -> Tensor) option) =
    let names = [| "forward (Model.applyWith)"; "loss"; "zero_grad"; "backward"; "optimizer step (fused)"; "scope dispose"; "total" |]
    let acc = Array.zeroCreate<float> 7
    let rng = Rng.seed 0L
    let mutable owned = 0
    let mutable liveInStep = 0L
    let run (record: bool) =
        let live0 = Tensor.LiveCount
        let t0 = Stopwatch.GetTimestamp()
        let scope = DisposeScope.Enter()
        let pred, _ = Model.applyWith sb.Model sb.Params sb.Model.State Train rng sb.Input
        let t1 = Stopwatch.GetTimestamp()
        let l = sb.Loss.Compute pred sb.Target
        let t2 = Stopwatch.GetTimestamp()
        sb.Optimizer.ZeroGrad()
        let t3 = Stopwatch.GetTimestamp()
        l.Backward()
        let t4 = Stopwatch.GetTimestamp()
        sb.Optimizer.Step()
        let t5 = Stopwatch.GetTimestamp()
        owned <- scope.Count
        liveInStep <- Tensor.LiveCount - live0
        scope.Dispose()
        let t6 = Stopwatch.GetTimestamp()
        if record then
            let ts = [| t0; t1; t2; t3; t4; t5; t6 |]
            for i in 0..5 do
                acc[i] <- acc[i] + Stopwatch.GetElapsedTime(ts[i], ts[i + 1]).TotalMilliseconds
            acc[6] <- acc[6] + Stopwatch.GetElapsedTime(t0, t6).TotalMilliseconds
    for _ in 1 .. (max 5 (steps / 5)) do
        run false
    let bytes0 = GC.GetAllocatedBytesForCurrentThread()
    for _ in 1..steps do
        run true
    let bytesPerStep = float (GC.GetAllocatedBytesForCurrentThread() - bytes0) / float steps
    printfn
        "%s (ms per step, mean of %d steps; %d tensor handles owned by the step scope at its end, %d live; %.0f managed bytes allocated per step incl. the profiler's):"
        label
        steps
        owned
        liveInStep
        bytesPerStep
    for i in 0..6 do
        printfn "  %-28s %8.3f  %5.1f%%" names[i] (acc[i] / float steps) (100.0 * acc[i] / acc[6])
    match engineForward with
    | Some f ->
        let x = Value.tensor sb.Input
        let dsl () =
            use _ = DisposeScope.Enter()
            Model.applyWith sb.Model sb.Params sb.Model.State Train rng sb.Input |> ignore
        let eng () =
            use _ = DisposeScope.Enter()
            f x |> ignore
        let n = max 20 (steps * 2)
        for g in [ dsl; eng ] do
            per (n / 4) g |> ignore
        let tDsl, tEng = per n dsl / 1000.0, per n eng / 1000.0
        printfn "  forward through the DSL   %8.4f ms;  the same forward as engine calls %8.4f ms;  DSL overhead %6.1f µs" tDsl tEng ((tDsl - tEng) * 1000.0)
    | None -> ()

let b2 (steps: int) =
    use sb = makeB2 ()
    let w = Tree.toList sb.Params |> List.map snd |> Array.ofList // dense.weight, dense.bias, dense_1..., dense_2...
    let fwd (x: Tensor) =
        let h1 = Functional.Relu(Functional.Linear(x, w[0], w[1]))
        let h2 = Functional.Relu(Functional.Linear(h1, w[2], w[3]))
        Functional.Linear(h2, w[4], w[5])
    stepPhases "B2 MLP step" sb steps (Some fwd)

/// Process CPU time (all threads, user + system) per call of `f`, mean of `n` calls: unlike wall time it
/// hardly moves when other processes share the cores.
let private cpuMs (n: int) (f: unit -> unit) =
    let me = Process.GetCurrentProcess()
    me.Refresh()
    let t0 = me.TotalProcessorTime
    for _ in 1..n do
        f ()
    me.Refresh()
    (me.TotalProcessorTime - t0).TotalMilliseconds / float n

/// B3's step with the convolutions in NCHW and in channels-last layout (Torch.ConvChannelsLast), each with
/// the phase breakdown and its CPU time per step.
let b3 (steps: int) =
    let saved = Torch.ConvChannelsLast
    try
        for channelsLast in [ false; true ] do
            Torch.ConvChannelsLast <- channelsLast
            use sb = makeB3 ()
            let w = Tree.toList sb.Params |> List.map snd |> Array.ofList
            let fwd (x: Tensor) =
                let c1 = Functional.MaxPool2d(Functional.Relu(Functional.Conv2d(x, w[0], w[1], struct (1L, 1L), struct (1L, 1L))), 2L)
                let c2 = Functional.MaxPool2d(Functional.Relu(Functional.Conv2d(c1, w[2], w[3], struct (1L, 1L), struct (1L, 1L))), 2L)
                let h = Functional.Relu(Functional.Linear(c2.Flatten(1L), w[4], w[5]))
                Functional.Linear(h, w[6], w[7])
            stepPhases (sprintf "B3 CNN step, Torch.ConvChannelsLast = %b" channelsLast) sb steps (Some fwd)
            printfn "  CPU time per step          %8.3f ms (all threads, mean of %d steps)" (cpuMs steps sb.Step) steps
    finally
        Torch.ConvChannelsLast <- saved

/// B4's epoch four ways on the same model and data: the DataLoader with its defaults (what the benchmark
/// runs: no transform, so batches are made on the training thread), the DataLoader with a prefetch thread, Training.fit, and a hand-written engine loop (randperm,
/// index_select per batch) that also times the batch gathering.
let b4 () =
    let x, y = loadFashionMnist ()
    use x = x
    use y = y
    let model = Model.buildSeeded 0L [ 784L ] fmnistMlp
    let time f =
        let t0 = Stopwatch.GetTimestamp()
        f ()
        Stopwatch.GetElapsedTime(t0).TotalSeconds
    let manual () =
        use opt = (Optimizers.adam 1e-3).Create(Tree.leaves model.Params)
        let n = x.Size 0
        use perm = Torch.Randperm n
        let mutable start = 0L
        let mutable lossSum = 0.0
        let mutable gather = 0.0
        while start < n do
            use _ = DisposeScope.Enter()
            let len = min 128L (n - start)
            let t0 = Stopwatch.GetTimestamp()
            let idx = perm.Narrow(0L, start, len)
            let xb, yb = x.IndexSelect(0L, idx), y.IndexSelect(0L, idx)
            gather <- gather + Stopwatch.GetElapsedTime(t0).TotalSeconds
            let pred, _ = Model.applyWith model model.Params model.State Train (Rng.seed 0L) (Value.T xb)
            let l = Loss.crossEntropy.Compute pred (Value.T yb)
            opt.ZeroGrad()
            l.Backward()
            opt.Step()
            lossSum <- lossSum + l.ToDouble()
            start <- start + len
        gather
    let mutable epoch = 0
    let loader prefetch () =
        epoch <- epoch + 1
        fmnistEpoch model model.Params x y epoch prefetch |> ignore
    let fit () =
        epoch <- epoch + 1
        fmnistFitEpoch model x y (int64 epoch)
    let mutable gather = 0.0
    let variants = [
        "DataLoader, defaults (the benchmark)", loader None
        "DataLoader, prefetch 2", loader (Some 2)
        "Training.fit (no metrics, silent)", fit
        "hand-written randperm + index_select loop", (fun () -> gather <- manual ())
    ]
    for _, f in variants do
        f () // warm-up
    let best = [
        for name, f in variants ->
            let runs = [
                for _ in 1..2 ->
                    let pf = minorFaults () in
                    let t = time f in
                    t, minorFaults () - pf
            ]
            name, List.minBy fst runs
    ]
    printfn "B4 Fashion-MNIST epoch (s, best of 2; minor page faults in that epoch):"
    for name, (t, pf) in best do
        printfn "  %-44s %7.3f  %8d faults" name t pf
    printfn "  (batch gathering in the hand-written loop: %.3f s)" gather
    Model.dispose model

/// B5 in detail: where resident memory goes over B2 steps (managed heap, glibc heap in use / free, mmapped blocks).
let b5 (steps: int) =
    use sb = makeB2 ()
    for _ in 1..500 do
        sb.Step()
    let mb (x: unativeint) = float x / 1048576.0
    let row (i: int) =
        let m = Libc.mallinfo2 ()
        printfn
            "  %6d %8.1f %10.1f %12.1f %10.1f %10.1f %8.1f %8d"
            i
            (float (rssKb ()) / 1024.0)
            (float (GC.GetTotalMemory false) / 1048576.0)
            (float (GC.GetGCMemoryInfo().TotalCommittedBytes) / 1048576.0)
            (mb m.Uordblks)
            (mb m.Fordblks)
            (mb m.Hblkhd)
            Tensor.LiveCount
    printfn "B5 memory over %d B2 steps after 500 warm-up steps (MB; malloc = glibc's mallinfo2 over all arenas):" steps
    printfn "  %6s %8s %10s %12s %10s %10s %8s %8s" "step" "RSS" "managed" "GC committed" "malloc use" "malloc free" "mmapped" "live"
    row 0
    for i in 1..steps do
        sb.Step()
        if i % (max 1 (steps / 10)) = 0 then row i
    GC.Collect()
    GC.WaitForPendingFinalizers()
    GC.Collect()
    printfn "  after a full GC:"
    row steps

let main (args: string list) =
    let rec opts (threads: int option, steps: int, which: string list) args =
        match args with
        | "--threads" :: n :: rest -> opts (Some(int n), steps, which) rest
        | "--steps" :: n :: rest -> opts (threads, int n, which) rest
        | b :: rest -> opts (threads, steps, which @ [ b ]) rest
        | [] -> threads, steps, which
    let threads, steps, which = opts (None, 200, []) args
    let which = if which.IsEmpty then [ "B1"; "B2"; "B3"; "B4" ] else which
    threads |> Option.iter (fun n -> Torch.NumThreads <- n)
    printfn "Dsl profile: %d intra-op threads, %d BLAS threads, libtorch %s" Torch.NumThreads Torch.BlasThreads Torch.LoadedVersion
    for w in which do
        match w with
        | "B1" -> b1 ()
        | "B2" -> b2 steps
        | "B3" -> b3 (max 5 (steps / 10))
        | "B4" -> b4 ()
        | "B5" -> b5 (max 10 (steps * 25))
        | other -> eprintfn "profile: unknown benchmark %s" other
    0
