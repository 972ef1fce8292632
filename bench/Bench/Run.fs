/// The run: builds the C++ side, prepares the data, starts the three sides as long-lived workers with the
/// same thread settings, measures the machine's peak, runs B1–B9 (or, with --scaling, the scaling series
/// S1–S4) in interleaved rounds, prints one line per benchmark and the PASS/MISS of every target, writes
/// bench/results.json atomically and, for the scaling series, their charts.
module Bench.Run

open System
open System.IO
open System.Text.Json.Nodes
open Bench.Protocol
open Bench.Orchestrator

/// Runs what the options select; returns 0 when every side answered everything, else 1.
let run (o: Options) : int =
    let root = findRoot ()
    let cores = Environment.ProcessorCount
    let wanted = Scaling.isWanted o.Only o.Scaling
    let deadline () = started.Elapsed.TotalSeconds > o.Budget
    let errors = Collections.Generic.List<string>()
    let results = JsonObject()
    let targets = Collections.Generic.List<Target>()
    let startedAt = DateTimeOffset.Now
    say (sprintf "root %s, %d cores, %d intra-op threads per side, OPENBLAS_NUM_THREADS=1, %s mode" root cores o.Threads (if o.Quick then "quick" else "full"))
    // Variables that change kernels or allocation for every side alike (children inherit them); recorded, not changed.
    let inherited =
        [
            for e in Environment.GetEnvironmentVariables() |> Seq.cast<Collections.DictionaryEntry> do
                let k = string e.Key
                if [ "OPENBLAS_"; "OMP_"; "GOMP_"; "MKL_"; "KMP_"; "DSL_"; "GLIBC_TUNABLES"; "MALLOC_"; "DOTNET_GC"; "LD_PRELOAD" ] |> List.exists k.StartsWith then
                    k, string e.Value
        ]
        |> List.sort
    if not inherited.IsEmpty then say (sprintf "inherited by every side: %s" (String.Join(" ", inherited |> List.map (fun (k, v) -> k + "=" + v))))

    let needMain = [ "B1"; "B2"; "B3"; "B4"; "B8R"; "B8M"; "B9"; "S1"; "S2" ] |> List.exists wanted
    let cpp = if needMain || wanted "S3" || wanted "S4" then buildCpp root o.Build else Error "not needed"
    (match cpp with
     | Error e when e <> "not needed" ->
         errors.Add("cpp: " + e)
         say ("C++ side unavailable: " + e)
     | _ -> ())
    let data = if wanted "B4" then prepareData root else Error "not needed"
    (match data with
     | Error e when wanted "B4" ->
         errors.Add("data: " + e)
         say ("Fashion-MNIST unavailable: " + e)
     | _ -> ())
    let dataDir =
        match data with
        | Ok d -> d
        | Error _ -> Path.Combine(root, "bench", "build", "data")

    let startTimeout = TimeSpan.FromSeconds 180.0
    let startAll (ws: Worker list) =
        // Start concurrently: the sides' start-up costs (loading libtorch, importing torch) overlap.
        let already = ws |> List.filter (fun w -> w.Dead.IsSome)
        ws |> List.map (fun w -> Threading.Tasks.Task.Run(fun () -> w.Start startTimeout)) |> List.iter (fun t -> t.Wait())
        for w in ws do
            match w.Dead with
            | Some e -> if not (List.contains w already) then errors.Add e
            | None ->
                say (
                    sprintf
                        "%s ready: %s"
                        w.Name
                        (match w.Ready with
                         | null -> "(no ready line)"
                         | r -> r.ToJsonString())
                )

    let benchJson = JsonArray()
    let lines = Collections.Generic.List<string>()
    let emit (l: string) =
        lines.Add l
        Console.Out.WriteLine l
        Console.Out.Flush()
    let busyShares = JsonObject()
    /// The SGEMM peak of this run (GFLOP/s), measured before the benchmarks.
    let mutable peakGemm = nan
    /// Records how much CPU other processes took during a benchmark, and warns when it was enough to skew it.
    let busy (id: string) (share: float) =
        busyShares[id] <- num share
        if share > 0.05 then emit (sprintf "warn %s other processes used %.0f%% of the CPUs during this benchmark: its figures are not reliable" id (100.0 * share))

    /// The scaling series run so far (series id, its points), in order.
    let scaling = Collections.Generic.List<string * Scaling.Point list>()
    let scalingContext: ScalingRun.Context = { Root = root; Options = o; Deadline = deadline; Errors = errors; Emit = emit; Busy = busy; Cpp = cpp; StartAll = startAll }

    // ---- B1–B4, B8, B9 and the scaling series S1, S2: the three sides, interleaved
    if needMain then
        let threadArgs = [ "--threads"; string o.Threads ]
        let dslExe, dslArgs = dslCommand threadArgs
        use dsl = new Worker("dsl", dslExe, dslArgs, measuredEnv 1, root)
        use py = new Worker("torch_py", pythonExe (), [ Path.Combine(root, "bench", "torch_bench.py") ] @ threadArgs @ [ "--data"; dataDir ], measuredEnv 1, root)
        use cppW =
            match cpp with
            | Ok exe -> new Worker("cpp", exe, threadArgs @ [ "--data"; dataDir ], measuredEnv 1, root)
            | Error e ->
                let w = new Worker("cpp", "torch_bench_cpp", [], [], root)
                w.Unavailable("cpp: not built: " + e)
                w
        startAll [ dsl; py; cppW ]
        // ---- the machine's limit, measured through the engine before the benchmarks (the other sides idle)
        let peak (bench: string) (reps: int) (iters: int) (warm: int) =
            match dsl.Request({ Bench = bench; Reps = reps; Iters = iters; Warm = warm }, TimeSpan.FromSeconds 120.0) with
            | Ok r ->
                let v = values r
                v, List.max v
            | Error e ->
                errors.Add("peak: " + e)
                [], nan
        let ours () = Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) [ dsl; py; cppW ]
        // What started this run may still be winding down (`dotnet fsi build.fsx bench` builds first, and its MSBuild
        // nodes and compiler servers stay busy for a few seconds after the workers start: 13–15 % of the CPUs during a
        // peak measured at once): wait up to 30 s for a quiet second, so that it does not depress the peak (and so
        // flatter every share of it).
        let waited, last = waitForQuiet ours 0.02 (if o.Quick then 5.0 else 30.0)
        if waited > 1.5 then emit (sprintf "info peak waited %.0f s for other processes to go quiet (last second: %.0f%% of the CPUs)" waited (100.0 * last))
        let probe = LoadProbe ours
        let gemmValues, gemm = if o.Quick then peak "PEAK_GEMM" 2 1 1 else peak "PEAK_GEMM" 7 3 2
        let copyValues, copy = if o.Quick then peak "PEAK_COPY" 2 2 1 else peak "PEAK_COPY" 7 4 2
        busy "peak" (probe.Foreign())
        peakGemm <- gemm
        emit (
            sprintf
                "peak sgemm_2048=%sGFLOP/s copy_256MB=%sGB/s (best of %d and %d reps through the engine, %d threads)"
                (fmt gemm)
                (fmt copy)
                gemmValues.Length
                copyValues.Length
                o.Threads
        )
        results["peak"] <-
            obj [
                "sgemm_gflops", num gemm
                "sgemm_n", num 2048.0
                "sgemm_values", numbers gemmValues
                "copy_gbps", num copy
                "copy_bytes", num (2.0 * 4.0 * 64.0 * 1024.0 * 1024.0)
                "copy_values", numbers copyValues
                "threads", num (float o.Threads)
            ]
        results["sides"] <-
            obj [
                for w in [ dsl; py; cppW ] ->
                    w.Name,
                    (match w.Ready with
                     | null -> str (defaultArg w.Dead "not started")
                     | r -> r.DeepClone())
            ]
        for p in plans o do
            if wanted p.Id then
                let series = [ dsl, Series(); py, Series(); cppW, Series() ]
                let req = { Bench = p.Id; Reps = p.Reps; Iters = p.Iters; Warm = p.Warm }
                let probe = LoadProbe(fun () -> Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) [ dsl; py; cppW ])
                let measured = runRounds deadline p.Id series req p.Rounds p.WarmRound p.Budget p.Timeout
                let foreign = probe.Foreign()
                busy p.Id foreign
                let m i = (snd series.[i]).Min
                let d, y, c = m 0, m 1, m 2
                emit (benchLine p.Name d y c units[p.Id])
                for w, s in series do
                    for e in s.Errors do
                        errors.Add e
                let rp, rc = ratio d y, ratio d c
                let _, limPy, limCpp = ratioTargets |> List.find (fun (id, _, _) -> id = p.Id)
                targets.Add { Bench = p.Id; Metric = "ratio_py"; Value = rp; Limit = limPy; AtLeast = false }
                limCpp |> Option.iter (fun l -> targets.Add { Bench = p.Id; Metric = "ratio_cpp"; Value = rc; Limit = l; AtLeast = false })
                // FLOPs per iteration, achieved GFLOP/s and share of the measured peak, for every side.
                let flops = Flops.perIteration p.Id |> Option.defaultValue nan
                let gflops (t: float) = flops / (t * Flops.unitSeconds units[p.Id]) / 1e9
                let share (t: float) = gflops t / peakGemm
                let sides = [ "dsl", d; "torch_py", y; "cpp", c ]
                emit (
                    sprintf
                        "flops %s per_iter=%sGFLOP %s peak=%sGFLOP/s"
                        p.Name
                        (fmt (flops / 1e9))
                        (String.Join(" ", sides |> List.map (fun (n, t) -> sprintf "%s=%sGFLOP/s(%s%%)" n (fmt (gflops t)) (fmt (100.0 * share t)))))
                        (fmt peakGemm)
                )
                peakTargets
                |> List.tryFind (fun (id, _) -> id = p.Id)
                |> Option.iter (fun (_, l) -> targets.Add { Bench = p.Id; Metric = "peak_share"; Value = share d; Limit = l; AtLeast = true })
                benchJson.Add(
                    obj [
                        "id", str p.Id
                        "name", str p.Name
                        "unit", str units[p.Id]
                        "request", obj [ "reps", num (float p.Reps); "iters", num (float p.Iters); "warm", num (float p.Warm) ]
                        "rounds_measured", num (float measured)
                        "dsl", (snd series.[0]).Json
                        "torch_py", (snd series.[1]).Json
                        "cpp", (snd series.[2]).Json
                        "ratio_py", num rp
                        "ratio_cpp", num rc
                        "other_processes_cpu_share", num foreign
                        "flops_per_iter", num flops
                        "gflops", obj [ for n, t in sides -> n, num (gflops t) ]
                        "peak_share", obj [ for n, t in sides -> n, num (share t) ]
                    ]
                )

        // ---- S1 (B3 against batch) and S2 (the MLP against width) on the same workers
        for series in [ "S1"; "S2" ] do
            if wanted series then scaling.Add(series, ScalingRun.sweep scalingContext series [ dsl; py; cppW ] peakGemm)

    // ---- B5: memory of the Dsl side over 5,000 B2 steps, in a fresh process
    if wanted "B5" then
        let steps, warm = if o.Quick then 500, 50 else 5000, 500
        let dslExe, dslArgs = dslCommand [ "--threads"; string o.Threads ]
        use w = new Worker("dsl_b5", dslExe, dslArgs, measuredEnv 1, root)
        startAll [ w ]
        let probe = LoadProbe(fun () -> Environment.ProcessId :: Option.toList w.Pid)
        let reply = w.Request({ Bench = "B5"; Reps = 1; Iters = steps; Warm = warm }, TimeSpan.FromSeconds 300.0)
        busy "B5" (probe.Foreign())
        match reply with
        | Ok r ->
            let growth = (values r).Head
            let before, after = (field r "live_before").GetValue<int64>(), (field r "live_after").GetValue<int64>()
            emit (benchLine "B5_rss_growth" growth nan nan "MB")
            emit (benchLine "B5_live_tensor_delta" (float (after - before)) nan nan "tensors")
            let f (k: string) = fmt ((field r k).GetValue<float>())
            emit (
                sprintf
                    "info B5 steps=%d warm_steps=%s (rss +%sMB during warm-up, from process start) rss_before=%sMB rss_after=%sMB gen0_gcs=%s live_before=%d live_after=%d trace_mb=[%s]"
                    steps
                    (f "warm_steps")
                    (f "warm_up_rss_growth_mb")
                    (f "rss_before_mb")
                    (f "rss_after_mb")
                    (f "gen0_collections_during_steps")
                    before
                    after
                    (String.Join(
                        " ",
                        (field r "trace_mb_every_500_steps_no_forced_gc").AsArray()
                        |> Seq.map (fun v ->
                            match v with
                            | null -> "n/a"
                            | v -> fmt (v.GetValue<float>()))
                    ))
            )
            targets.Add { Bench = "B5"; Metric = "rss_growth_mb"; Value = growth; Limit = 10.0; AtLeast = false }
            targets.Add { Bench = "B5"; Metric = "live_tensor_delta"; Value = float (after - before); Limit = 0.0; AtLeast = false }
            results["b5"] <- r.DeepClone()
        | Error e ->
            errors.Add e
            emit (benchLine "B5_rss_growth" nan nan nan "MB")
            emit (benchLine "B5_live_tensor_delta" nan nan nan "tensors")
            targets.Add { Bench = "B5"; Metric = "rss_growth_mb"; Value = nan; Limit = 10.0; AtLeast = false }
            targets.Add { Bench = "B5"; Metric = "live_tensor_delta"; Value = nan; Limit = 0.0; AtLeast = false }

    // ---- B6: B3 through Dsl with no thread settings at all vs the best settings found
    if wanted "B6" then
        let threadCounts = if cores <= 8 then [ 1..cores ] else [ yield! Seq.unfold (fun t -> if t < cores then Some(t, t * 2) else None) 1; yield cores ]
        let blasCounts = List.distinct [ 1; cores ]
        let configs = [
            for t in threadCounts do
                for b in blasCounts -> t, b
        ]
        let defaultExe, defaultArgs = dslCommand []
        let workers =
            new Worker("default", defaultExe, defaultArgs, bareEnv, root)
            :: [
                for t, b in configs ->
                    let exe, args = dslCommand [ "--threads"; string t; "--blas"; string b ]
                    new Worker(sprintf "t%d_b%d" t b, exe, args, measuredEnv b, root)
            ]
        try
            startAll workers
            let series = workers |> List.map (fun w -> w, Series())
            // Many short requests, interleaved (the order rotates every round), minimum over all: the
            // configurations see the same moments of the machine, so the figure measures the setting, not
            // which process happened to run while the machine was quiet.
            let reps, iters, warm, rounds = if o.Quick then 1, 2, 1, (defaultArg o.Rounds 1) else 1, 4, 1, (defaultArg o.Rounds 16)
            let probe = LoadProbe(fun () -> Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) workers)
            let measured = runRounds deadline "B6" series { Bench = "B3"; Reps = reps; Iters = iters; Warm = warm } rounds (not o.Quick) 150.0 180.0
            let foreign = probe.Foreign()
            busy "B6" foreign
            for _, s in series do
                for e in s.Errors do
                    errors.Add e
            let defaultMs = (snd series.Head).Min
            let bestW, bestS = series.Tail |> List.minBy (fun (_, s) -> if Double.IsNaN s.Min then infinity else s.Min)
            let r = ratio defaultMs bestS.Min
            emit (benchLine "B6_default_over_best" r nan nan "ratio")
            let defaultThreads =
                match (fst series.Head).Ready with
                | null -> "?"
                | r -> (field r "threads").ToJsonString() + "/" + (field r "blas_threads").ToJsonString()
            emit (
                sprintf
                    "info B6 default=%sms (threads/blas %s) best=%sms (%s) configs: %s"
                    (fmt defaultMs)
                    defaultThreads
                    (fmt bestS.Min)
                    bestW.Name
                    (String.Join(" ", series.Tail |> List.map (fun (w, s) -> sprintf "%s=%s" w.Name (fmt s.Min))))
            )
            targets.Add { Bench = "B6"; Metric = "default_over_best"; Value = r; Limit = 1.05; AtLeast = false }
            results["b6"] <-
                obj [
                    "bench", str "B3"
                    "unit", str "ms"
                    "rounds_measured", num (float measured)
                    "default", (snd series.Head).Json
                    "default_ready",
                    (match (fst series.Head).Ready with
                     | null -> null
                     | r -> r.DeepClone())
                    "configs", obj [ for w, s in series.Tail -> w.Name, (s.Json :> JsonNode | null) ]
                    "best", str bestW.Name
                    "default_over_best", num r
                    "other_processes_cpu_share", num foreign
                ]
        finally
            for w in workers do
                (w :> IDisposable).Dispose()

    // ---- B7: data-parallel training, every rank a fresh process on 127.0.0.1 (DistBench.fs)
    if wanted "B7" then
        let b7 = DistBench.measure o.Quick o.Rounds root (dslProgram "b7-rank" []) (pythonExe ()) (measuredEnv 1) say
        for l in b7.Lines do
            emit l
        targets.Add { Bench = "B7"; Metric = "ratio_py"; Value = b7.RatioPy; Limit = 1.0; AtLeast = false }
        errors.AddRange b7.Errors
        results["b7"] <- b7.Json

    // ---- S3 (B2 and B3 against intra-op threads) and S4 (the loader's peak RSS against dataset size)
    if wanted "S3" then scaling.Add("S3", ScalingRun.threads scalingContext)
    if wanted "S4" then scaling.Add("S4", ScalingRun.loader scalingContext)
    if scaling.Count > 0 then
        // Charts: bench/charts (committed, embedded in bench/README.md) for a full run; bench/build/charts for a quick one.
        let chartDir = if o.Quick then Path.Combine(root, "bench", "build", "charts") else Path.Combine(root, "bench", "charts")
        let stamp = startedAt.ToString("yyyy-MM-dd", Globalization.CultureInfo.InvariantCulture) + (if o.Quick then ", quick" else "")
        let charts = JsonObject()
        for series, points in scaling do
            if not points.IsEmpty then
                try
                    let path = ScalingCharts.write chartDir series peakGemm stamp points
                    charts[series] <- str (Path.GetRelativePath(root, path))
                    say (sprintf "chart %s" path)
                with e ->
                    errors.Add(sprintf "chart %s: %s" series e.Message)
        results["scaling"] <-
            obj [
                for series, points in scaling -> series, (Scaling.seriesJson series peakGemm points :> JsonNode | null)
                yield "charts", (charts :> JsonNode | null)
                yield "peak_sgemm_gflops", num peakGemm
            ]

    // ---- targets and results
    emit "targets (ratio = Dsl / other, lower is better; peak_share = Dsl's GFLOP/s / the SGEMM peak, higher is better):"
    for t in targets do
        emit (sprintf "target %s %s=%s %s=%s %s" t.Bench t.Metric (fmt t.Value) (if t.AtLeast then "min" else "limit") (fmt t.Limit) (if t.Pass then "PASS" else "MISS"))
    for e in errors do
        say ("error: " + e)
    results["schema"] <- str "dsl-bench/1"
    results["started"] <- str (startedAt.ToString "o")
    results["elapsed_s"] <- num started.Elapsed.TotalSeconds
    results["machine"] <-
        obj [
            "cores", num (float cores)
            "os", str Runtime.InteropServices.RuntimeInformation.OSDescription
            "dotnet", str (Environment.Version.ToString())
            "environment", obj [ for k, v in inherited -> k, str v ]
        ]
    results["settings"] <-
        obj [
            "mode", str (if o.Quick then "quick" else "full")
            "scaling", boolean o.Scaling
            "intra_op_threads", num (float o.Threads)
            "OPENBLAS_NUM_THREADS", str "1"
            "budget_s", num o.Budget
        ]
    results["benchmarks"] <- benchJson
    results["other_processes_cpu_share"] <- busyShares
    results["lines"] <- JsonArray(lines |> Seq.map str |> Array.ofSeq)
    results["targets"] <-
        JsonArray(
            [|
                for t in targets ->
                    obj [ "bench", str t.Bench; "metric", str t.Metric; "value", num t.Value; "limit", num t.Limit; "at_least", boolean t.AtLeast; "pass", boolean t.Pass ]
                    :> JsonNode
            |]
        )
    results["errors"] <- JsonArray(errors |> Seq.map str |> Array.ofSeq)
    let out = defaultArg o.Out (Path.Combine(root, "bench", "results.json"))
    let text = results.ToJsonString(Text.Json.JsonSerializerOptions(WriteIndented = true))
    writeAtomically out text
    say (sprintf "wrote %s (%.0fs in all)" out started.Elapsed.TotalSeconds)
    if errors.Count = 0 then 0 else 1
